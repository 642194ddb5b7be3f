"""A short, human description of each component, for `ops inventory show`."""

from __future__ import annotations

from ops.inventory.components import (
    Adot,
    ApiGateway,
    Component,
    DocumentDb,
    EcsCluster,
    Emr,
    Glue,
    Grafana,
    Lambda,
    Msk,
    MskReplicator,
    Mwaa,
    Rds,
    S3Lake,
)
from ops.inventory.environment import Environment


def aws_names(env: Environment, component: Component) -> list[str]:
    """The names this component's resources carry in AWS, with the environment prefix."""
    match component:
        case ApiGateway():
            return [env.resource_name(component.api_name)]
        case Lambda():
            return [env.resource_name(component.function_name)]
        case Msk():
            return [env.resource_name(component.cluster_name)]
        case MskReplicator():
            return [env.resource_name(component.replicator_name)]
        case S3Lake():
            return [env.resource_name(bucket.bucket) for _, bucket in component.zones]
        case Glue():
            return [env.resource_name(job.name) for job in component.jobs]
        case Emr():
            return [env.resource_name(component.cluster_name)]
        case Rds():
            return [env.resource_name(component.identifier)]
        case DocumentDb():
            return [env.resource_name(component.cluster_identifier)]
        case Mwaa():
            return [env.resource_name(component.environment_name)]
        case Adot():
            return [env.resource_name(c.name) for c in component.collectors]
        case Grafana():
            return [env.resource_name(component.workspace_name)]
        case EcsCluster():
            return [env.resource_name(component.cluster_name)]
    return []


def settings(component: Component) -> str:
    """The few settings an operator looks for first."""
    match component:
        case ApiGateway():
            return f"{component.api_type} API, stage {component.stage}, {len(component.routes)} routes"
        case Lambda():
            target = component.produces_to
            return (
                f"{component.memory_mb} MB, {component.timeout_seconds} s -> {target.cluster}/{target.topic}"
            )
        case Msk():
            region = f", {component.region}" if component.region else ""
            return (
                f"{component.role}{region}, {component.broker_count} x {component.instance_type}, "
                f"{len(component.topics)} topics, {len(component.consumer_groups)} consumer groups"
            )
        case MskReplicator():
            return f"{component.source} -> {component.target}, {len(component.topics)} topics"
        case S3Lake():
            return "zones raw, processed, curated"
        case Glue():
            return f"{len(component.jobs)} jobs"
        case Emr():
            return (
                f"{component.release_label}, {component.core_instance_count} core x {component.instance_type}"
            )
        case Rds():
            multi_az = "Multi-AZ" if component.multi_az else "single-AZ"
            return (
                f"{component.engine} {component.engine_version}, {component.instance_class}, "
                f"{multi_az}, backups {component.backup_retention_days} d"
            )
        case DocumentDb():
            return f"{component.instance_count} x {component.instance_class}"
        case Mwaa():
            return f"Airflow {component.airflow_version}, {component.environment_class}"
        case Adot():
            return ", ".join(f"{c.name} ({c.mode})" for c in component.collectors)
        case Grafana():
            return f"auth {component.authentication}"
        case EcsCluster():
            return "Container Insights on" if component.container_insights else "Container Insights off"
    return ""
