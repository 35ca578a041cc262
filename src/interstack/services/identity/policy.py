"""The policy layer: which caller may do what, by role and scope.

Rules follow Keystone's defaults for the ``admin``/``member``/``reader`` personas: the admin role
is the cloud administrator; members and readers see their own user, their own projects and their
own application credentials, never another project's data. Every identity API call names one
action from :data:`RULES`; an action without a rule is refused, so forgetting one fails closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from interstack.errors import Forbidden
from interstack.services.context import RequestContext


@dataclass(frozen=True)
class Target:
    """What an action is applied to; rules compare it with the caller."""

    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None


Rule = Callable[[RequestContext, Target], bool]


def admin(ctx: RequestContext, _target: Target) -> bool:
    return ctx.is_admin


def admin_or_self(ctx: RequestContext, target: Target) -> bool:
    return ctx.is_admin or (target.user_id is not None and target.user_id == ctx.user_id)


def admin_or_project_reader(ctx: RequestContext, target: Target) -> bool:
    if ctx.is_admin:
        return True
    return ctx.is_reader and target.project_id is not None and target.project_id == ctx.project_id


def admin_or_domain_member(ctx: RequestContext, target: Target) -> bool:
    """Anyone whose token is scoped to the domain, or to a project in it, may read the domain."""
    if ctx.is_admin:
        return True
    return target.domain_id is not None and target.domain_id in (
        ctx.domain_id,
        ctx.project_domain_id,
    )


def any_authenticated(_ctx: RequestContext, _target: Target) -> bool:
    return True


RULES: Mapping[str, Rule] = {
    # tokens and catalog
    "identity:validate_token": admin_or_self,
    "identity:revoke_token": admin_or_self,
    "identity:get_auth_catalog": any_authenticated,
    "identity:get_auth_projects": any_authenticated,
    "identity:get_auth_domains": any_authenticated,
    # regions (Keystone's default: any token may read them, as its catalog names them)
    "identity:list_regions": any_authenticated,
    "identity:get_region": any_authenticated,
    "identity:create_region": admin,
    "identity:update_region": admin,
    "identity:delete_region": admin,
    # domains
    "identity:list_domains": admin,
    "identity:get_domain": admin_or_domain_member,
    "identity:create_domain": admin,
    "identity:update_domain": admin,
    "identity:delete_domain": admin,
    # projects
    "identity:list_projects": admin,
    "identity:get_project": admin_or_project_reader,
    "identity:create_project": admin,
    "identity:update_project": admin,
    "identity:delete_project": admin,
    "identity:list_user_projects": admin_or_self,
    # users
    "identity:list_users": admin,
    "identity:get_user": admin_or_self,
    "identity:create_user": admin,
    "identity:update_user": admin,
    "identity:delete_user": admin,
    # roles and assignments
    "identity:list_roles": admin,
    "identity:get_role": admin,
    "identity:create_role": admin,
    "identity:update_role": admin,
    "identity:delete_role": admin,
    "identity:list_role_assignments": admin,
    "identity:check_grant": admin,
    "identity:list_grants": admin,
    "identity:create_grant": admin,
    "identity:revoke_grant": admin,
    "identity:list_system_grants_for_user": admin,
    "identity:check_system_grant_for_user": admin,
    "identity:create_system_grant_for_user": admin,
    "identity:revoke_system_grant_for_user": admin,
    # application credentials
    "identity:list_application_credentials": admin_or_self,
    "identity:get_application_credential": admin_or_self,
    "identity:create_application_credential": admin_or_self,
    "identity:delete_application_credential": admin_or_self,
}


def enforce(ctx: RequestContext, action: str, target: Target | None = None) -> None:
    """Raise Forbidden unless the rule for ``action`` allows ``ctx`` on ``target``."""
    rule = RULES.get(action)
    if rule is None or not rule(ctx, target or Target()):
        raise Forbidden(f"You are not authorized to perform the requested action: {action}.")
