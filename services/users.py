"""Users and their project roles (control plane)."""

from __future__ import annotations

import email_validator
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from core.errors import Conflict, NotFound, ValidationFailed
from models.base import utcnow
from models.db import public_session
from models.enums import ProjectRole, UserRole
from models.public import Project, Tenant, User, UserProjectRole
from services import audit
from services.audit import Actor
from services.security import hash_password
from services.sessions import forget_cached_users, revoke_all_sessions

MIN_PASSWORD_LENGTH = 10

# Self-hosted installations often use internal mail domains (admin@dmt.local):
# email_validator documents removing entries from this list to allow them.
for _internal in ("local", "internal"):
    if _internal in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_internal)


class UserCreate(BaseModel):
    email: str
    full_name: str = Field(default="", max_length=200)
    password: str
    role: UserRole = UserRole.COMPANY_USER
    tenant_id: int | None = None


class UserPublic(BaseModel):
    id: int
    email: str
    full_name: str
    role: str
    tenant_id: int | None
    tenant_slug: str | None = None
    is_active: bool
    project_roles: dict[int, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, user: User, tenant_slug: str | None = None, project_roles: dict[int, str] | None = None) -> UserPublic:
        return cls(
            id=user.id or 0,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            tenant_id=user.tenant_id,
            tenant_slug=tenant_slug,
            is_active=user.is_active,
            project_roles=project_roles or {},
        )


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(f"invalid email address {email!r}: {exc}", field="email") from exc


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")


def create_user(data: UserCreate, actor: Actor) -> User:
    email = normalize_email(data.email)
    check_password_strength(data.password)
    if data.role == UserRole.COMPANY_USER and data.tenant_id is None:
        raise ValidationFailed("a company user belongs to a tenant: give tenant_id", field="tenant_id")
    if data.role == UserRole.PLATFORM_ADMIN and data.tenant_id is not None:
        raise ValidationFailed("a platform admin belongs to no tenant", field="tenant_id")
    with public_session() as session:
        if data.tenant_id is not None:
            tenant = session.get(Tenant, data.tenant_id)
            if tenant is None:
                raise NotFound(f"tenant {data.tenant_id} not found")
        if session.exec(select(User).where(User.email == email)).first():
            raise Conflict(f"a user with email {email} already exists", field="email")
        user = User(
            email=email,
            full_name=data.full_name.strip(),
            password_hash=hash_password(data.password),
            role=data.role,
            tenant_id=data.tenant_id,
            password_changed_at=utcnow(),
        )
        session.add(user)
        try:
            session.flush()
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"a user with email {email} already exists", field="email") from exc
        audit.record(session, actor, "user.create", "user", user.id, new=audit.snapshot(user), tenant_id=user.tenant_id)
        session.commit()
        return user


def _user_in(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def get_user(user_id: int) -> User:
    """The user with this id (detached, columns loaded), or NotFound."""
    with public_session() as session:
        return _user_in(session, user_id)


def get_user_by_email(email: str) -> User | None:
    """The user with this email (case and surrounding spaces ignored), or None."""
    with public_session() as session:
        return session.exec(select(User).where(User.email == email.strip().lower())).first()


def list_users(tenant_id: int | None = None) -> list[User]:
    """Users by email; with tenant_id, only that tenant's."""
    query = select(User).order_by(User.email)
    if tenant_id is not None:
        query = query.where(User.tenant_id == tenant_id)
    with public_session() as session:
        return list(session.exec(query).all())


def project_roles_of(user_id: int) -> dict[int, str]:
    """The user's role on each project, by project id."""
    with public_session() as session:
        rows = session.exec(select(UserProjectRole).where(UserProjectRole.user_id == user_id)).all()
        return {r.project_id: r.role for r in rows}


def set_project_role(user_id: int, project_id: int, role: ProjectRole | None, actor: Actor) -> None:
    """Give (or with None, take away) a user's role on a project of the same tenant."""
    with public_session() as session:
        user = _user_in(session, user_id)
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        if user.tenant_id != project.tenant_id:
            raise ValidationFailed("the user and the project belong to different tenants")
        row = session.exec(
            select(UserProjectRole).where(UserProjectRole.user_id == user_id, UserProjectRole.project_id == project_id)
        ).first()
        old = {"role": row.role} if row else None
        if role is None:
            if row:
                session.delete(row)
        elif row:
            row.role = role
        else:
            session.add(UserProjectRole(user_id=user_id, project_id=project_id, role=role))
        forget_cached_users()
        audit.record(
            session,
            actor,
            "user.project_role",
            "user",
            user_id,
            old={"project_id": project_id, **(old or {})},
            new={"project_id": project_id, "role": role.value if role else None},
            tenant_id=user.tenant_id,
        )
        session.commit()


def reset_password(user_id: int, new_password: str, actor: Actor) -> None:
    check_password_strength(new_password)
    with public_session() as session:
        user = _user_in(session, user_id)
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.updated_at = utcnow()
        audit.record(session, actor, "user.reset_password", "user", user.id, tenant_id=user.tenant_id)
        session.commit()
    revoke_all_sessions(user_id)


def set_user_active(user_id: int, active: bool, actor: Actor) -> User:
    with public_session() as session:
        user = _user_in(session, user_id)
        old = audit.snapshot(user)
        user.is_active = active
        user.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "user.activate" if active else "user.deactivate",
            "user",
            user.id,
            old=old,
            new=audit.snapshot(user),
            tenant_id=user.tenant_id,
        )
        session.commit()
    if not active:
        revoke_all_sessions(user_id)
    return user
