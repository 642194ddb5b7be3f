"""ADOT collector configurations: generated from the inventory, validated, provisioned."""
