"""The desired ADOT resources of an environment: each collector's configuration parameter
(checked by `ops adot validate`'s rules before it is planned), and each gateway's task
definition."""

from __future__ import annotations

from adot.components import DISTRIBUTIONS
from adot.generate import collector_configs
from adot.validate import validate_text
from ops.contracts import amp_url_parameter, collector_image_parameter, collector_roles
from ops.errors import OpsError
from ops.inventory.environment import Environment
from ops.kinds.adot import collector_log_group
from ops.observe.providers.collector_configs import COLLECTOR_CONFIG_KIND, config_parameter
from ops.observe.providers.collector_tasks import COLLECTOR_TASK_KIND, parameter_arn, task_properties
from ops.observe.providers.ownership import ownership_tags
from ops.reconcile.model import Resource


def collector_resources(
    env: Environment, account: str, image: str | None, notes: list[str]
) -> list[Resource]:
    resources: list[Resource] = []
    for collector, text, name in collector_configs(env).values():
        distribution = DISTRIBUTIONS["lambda" if collector.mode == "lambda" else "collector"]
        problems = validate_text(text, distribution)
        if problems:  # a generator bug: never provision what ADOT would refuse
            raise OpsError(f"the generated {collector.name} configuration is invalid: {problems[0].message}")
        parameter = config_parameter(env, collector.name)
        properties = {"Value": text, "Type": "String"}
        resources.append(
            Resource(
                COLLECTOR_CONFIG_KIND, parameter, properties, ownership_tags(env, COLLECTOR_CONFIG_KIND), name
            )
        )
        if collector.mode != "gateway":
            continue  # sidecars go in their application's task definition; the layer in the function
        if image is None:
            notes.append(
                f"not planned: the {collector.name} task definition ({collector_image_parameter(env)} "
                "does not exist yet: apply terraform/modules/adot)"
            )
            continue
        family = env.resource_name(collector.name)
        log_group = collector_log_group(env, collector.name)  # where the adot kind names it
        task = task_properties(
            family,
            image,
            parameter_arn(env, account, parameter),
            parameter_arn(env, account, amp_url_parameter(env)),
            collector_roles(env, account),
            log_group,
            env.region,
        )
        resources.append(
            Resource(COLLECTOR_TASK_KIND, family, task, ownership_tags(env, COLLECTOR_TASK_KIND), name)
        )
    return resources
