"""First start: the Default domain, the admin/member/reader roles, admin and demo accounts.

Generated passwords are stored only hashed; their plaintext goes only into ``clouds.yaml`` in the
data dir (mode 0600). Every later start keeps the accounts and rewrites ``clouds.yaml`` with the
current URL and regions, keeping the passwords already in it. The first region is each cloud's
default; every region is listed, so ``--os-region-name`` can pick any of them.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.services.identity import roles as role_names
from interstack.services.identity.passwords import STANDARD, SecretHasher, generate_secret
from interstack.store import Database
from interstack.store.models import Domain, Project, Role, RoleAssignment, User

DEFAULT_DOMAIN_ID = "default"
ADMIN_CLOUD = "interstack-admin"
DEMO_CLOUD = "interstack"


@dataclass(frozen=True)
class BootstrapResult:
    clouds_yaml: Path
    admin_project_id: str
    created: bool


def _new_id() -> str:
    return uuid.uuid4().hex


def _ensure_role(session: Session, name: str) -> Role:
    role = session.scalars(select(Role).where(Role.name == name, Role.domain_id.is_(None))).first()
    if role is None:
        role = Role(id=_new_id(), name=name, domain_id=None, description="", extra={})
        session.add(role)
        session.flush()
    return role


def _ensure_project(session: Session, name: str, description: str) -> Project:
    project = session.scalars(
        select(Project).where(Project.name == name, Project.domain_id == DEFAULT_DOMAIN_ID)
    ).first()
    if project is None:
        project = Project(
            id=_new_id(),
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            description=description,
            enabled=True,
            tags=[],
            extra={},
        )
        session.add(project)
        session.flush()
    return project


def _grant(session: Session, user_id: str, target_type: str, target_id: str, role_id: str) -> None:
    exists = session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.actor_id == user_id,
            RoleAssignment.target_type == target_type,
            RoleAssignment.target_id == target_id,
            RoleAssignment.role_id == role_id,
        )
    ).first()
    if exists is None:
        session.add(
            RoleAssignment(
                actor_id=user_id,
                target_type=target_type,
                target_id=target_id,
                role_id=role_id,
                inherited=False,
            )
        )


def _ensure_user(
    session: Session, name: str, project: Project, hasher: SecretHasher
) -> tuple[User, str | None]:
    """The user, plus its new plaintext password if it was created now."""
    user = session.scalars(
        select(User).where(User.name == name, User.domain_id == DEFAULT_DOMAIN_ID)
    ).first()
    if user is not None:
        return user, None
    password = generate_secret()
    user = User(
        id=_new_id(),
        name=name,
        domain_id=DEFAULT_DOMAIN_ID,
        password_hash=hasher.hash(password),
        enabled=True,
        default_project_id=project.id,
        description="",
        extra={},
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    session.add(user)
    session.flush()
    return user, password


def _read_passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
        clouds = data.get("clouds", {})
        return {
            name: str(cloud["auth"]["password"])
            for name, cloud in clouds.items()
            if isinstance(cloud, dict) and "password" in cloud.get("auth", {})
        }
    except (yaml.YAMLError, AttributeError, KeyError, TypeError):
        return {}


def _cloud(
    auth_url: str, regions: list[str], user: str, password: str, project: str
) -> dict[str, Any]:
    return {
        "auth": {
            "auth_url": auth_url,
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": regions[0],
        "regions": list(regions),
        "identity_api_version": 3,
        "interface": "public",
    }


def write_clouds_yaml(
    path: Path, auth_url: str, regions: list[str], admin_pw: str, demo_pw: str
) -> None:
    content = {
        "clouds": {
            ADMIN_CLOUD: _cloud(auth_url, regions, "admin", admin_pw, "admin"),
            DEMO_CLOUD: _cloud(auth_url, regions, "demo", demo_pw, "demo"),
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(content, handle, sort_keys=False)
    os.replace(temporary, path)


def bootstrap(
    db: Database,
    data_dir: Path,
    auth_url: str,
    regions: list[str],
    hasher: SecretHasher = STANDARD,
) -> BootstrapResult:
    """Create what a new cloud needs (idempotent) and (re)write ``clouds.yaml``."""
    clouds_yaml = data_dir / "clouds.yaml"
    with db.session() as session:
        if session.get(Domain, DEFAULT_DOMAIN_ID) is None:
            session.add(
                Domain(
                    id=DEFAULT_DOMAIN_ID,
                    name="Default",
                    enabled=True,
                    description="The default domain",
                    extra={},
                )
            )
            session.flush()
        found = {name: _ensure_role(session, name) for name in role_names.DEFAULT_ROLES}
        _ensure_role(session, role_names.RESELLER_ADMIN)  # as deployments with Swift have it
        admin_project = _ensure_project(session, "admin", "Bootstrap project for the cloud admin")
        demo_project = _ensure_project(session, "demo", "Bootstrap project for a first user")
        admin_user, admin_pw = _ensure_user(session, "admin", admin_project, hasher)
        demo_user, demo_pw = _ensure_user(session, "demo", demo_project, hasher)
        _grant(session, admin_user.id, "project", admin_project.id, found[role_names.ADMIN].id)
        _grant(session, admin_user.id, "system", "all", found[role_names.ADMIN].id)
        _grant(session, demo_user.id, "project", demo_project.id, found[role_names.MEMBER].id)
        admin_project_id = admin_project.id

    created = admin_pw is not None or demo_pw is not None
    known = _read_passwords(clouds_yaml)
    admin_pw = admin_pw or known.get(ADMIN_CLOUD)
    demo_pw = demo_pw or known.get(DEMO_CLOUD)
    if admin_pw and demo_pw:
        write_clouds_yaml(clouds_yaml, auth_url, regions, admin_pw, demo_pw)
    return BootstrapResult(clouds_yaml, admin_project_id, created=created)
