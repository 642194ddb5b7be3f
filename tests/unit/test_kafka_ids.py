"""KRaft cluster ids: what Kafka's storage tool takes (22 base64url characters, never a
leading '-', which it would read as an option: 1 id in 64 did before)."""

from __future__ import annotations

import re

from ops.local.kafka import new_cluster_id


def test_cluster_ids_are_22_base64url_characters_and_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(3000)]
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cluster_id) for cluster_id in ids)
    assert len(set(ids)) == len(ids)
