"""One developer identity per person across tools, resolved in batches.

A person shows up as a Jira account, a ClickUp user, an Azure identity, a
GitHub login and usually an e-mail address. Resolution order for each person
seen in a batch:

1. a manual mapping (an alias row with source = "manual") for any of its aliases;
2. its e-mail (alias type "email", or an identity's primary_email);
3. any automatic alias (jira_account, clickup_user, azure_identity, github_login);
4. otherwise a new identity is created.

Every alias seen is then recorded for the identity it resolved to. All of it
is a handful of set-based statements per batch, never a round trip per row.
Concurrent loads in one tenant serialise on a transaction-level advisory lock,
so two syncs cannot create the same person twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from models.db import tenant_schema_of

ALIAS_TYPES = ("jira_account", "clickup_user", "azure_identity", "github_login", "email")

#: Which alias type a tool's account id is, per source type.
ACCOUNT_ALIAS_TYPE = {
    "jira": "jira_account",
    "clickup": "clickup_user",
    "azure_boards": "azure_identity",
    "azure_devops_git": "azure_identity",
    "github": "github_login",
}


@dataclass(frozen=True)
class PersonRef:
    """A person as one record names them: a tool account and/or an e-mail, and a display name."""

    alias_type: str | None
    alias_value: str | None
    email: str | None
    name: str | None

    @property
    def key(self) -> tuple[str, str] | None:
        """The key callers use to look the resolved identity up."""
        if self.alias_type and self.alias_value:
            return (self.alias_type, self.alias_value)
        if self.email:
            return ("email", self.email)
        return None


def person(source_type: str, account: str | None, email: str | None, name: str | None) -> PersonRef | None:
    """Build a PersonRef from a record's fields; None when the record names nobody."""
    account = (account or "").strip() or None
    email = (email or "").strip().lower() or None
    if not account and not email:
        return None
    return PersonRef(ACCOUNT_ALIAS_TYPE.get(source_type) if account else None, account, email, (name or "").strip() or None)


def resolve_identities(session: Session, people: list[PersonRef]) -> dict[tuple[str, str], int]:
    """Resolve (and create where needed) identities for `people`; returns key -> identity id."""
    people = [p for p in people if p.key is not None]
    if not people:
        return {}
    schema = tenant_schema_of(session)
    session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"dmt:identities:{schema}"})

    alias_pairs: set[tuple[str, str]] = set()
    for p in people:
        if p.alias_type and p.alias_value:
            alias_pairs.add((p.alias_type, p.alias_value))
        if p.email:
            alias_pairs.add(("email", p.email))
    types = [a for a, _ in alias_pairs]
    values = [v for _, v in alias_pairs]
    rows = session.execute(
        sa.text(
            f"""SELECT a.alias_type, a.alias_value, a.identity_id, a.source
                FROM "{schema}".identity_aliases a
                JOIN unnest(CAST(:types AS text[]), CAST(:vals AS text[])) AS k(t, v)
                  ON a.alias_type = k.t AND a.alias_value = k.v"""
        ),
        {"types": types, "vals": values},
    ).all()
    known: dict[tuple[str, str], tuple[int, str]] = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    emails = sorted({p.email for p in people if p.email and ("email", p.email) not in known})
    if emails:
        for email, identity_id in session.execute(
            sa.text(
                f"""SELECT lower(primary_email), min(id) FROM "{schema}".developer_identities
                    WHERE lower(primary_email) = ANY(CAST(:emails AS text[])) GROUP BY 1"""
            ),
            {"emails": emails},
        ).all():
            known[("email", email)] = (identity_id, "auto")

    def match(p: PersonRef) -> int | None:
        account = known.get((p.alias_type, p.alias_value)) if p.alias_type and p.alias_value else None
        by_email = known.get(("email", p.email)) if p.email else None
        if account and account[1] == "manual":
            return account[0]
        if by_email and by_email[1] == "manual":
            return by_email[0]
        if by_email:
            return by_email[0]
        return account[0] if account else None

    resolved: dict[PersonRef, int] = {}
    unmatched: list[PersonRef] = []
    for p in people:
        identity_id = match(p)
        if identity_id is None:
            unmatched.append(p)
        else:
            resolved[p] = identity_id
    # Within the batch, an account seen once with an e-mail and once without
    # (a reviewer entry, say) is the same person.
    account_id = {(p.alias_type, p.alias_value): i for p, i in resolved.items() if p.alias_type}
    account_group = {(p.alias_type, p.alias_value): ("email", p.email) for p in unmatched if p.alias_type and p.email}
    # People not known yet: one new identity per e-mail, else per tool account.
    pending: dict[tuple[str, str], PersonRef] = {}
    group_of: dict[PersonRef, tuple[str, str]] = {}
    for p in unmatched:
        account = (p.alias_type, p.alias_value) if p.alias_type else None
        if not p.email and account in account_id:
            resolved[p] = account_id[account]
            continue
        group = ("email", p.email) if p.email else account_group.get(account, p.key)  # type: ignore[arg-type]
        assert group is not None
        group_of[p] = group
        best = pending.get(group)
        if best is None or (not best.name and p.name) or (not best.email and p.email):
            pending[group] = p
    if pending:
        groups = list(pending)
        new_ids = session.execute(
            sa.text(
                f"""INSERT INTO "{schema}".developer_identities (display_name, primary_email)
                    SELECT n, e FROM unnest(CAST(:names AS text[]), CAST(:emails AS text[])) WITH ORDINALITY AS x(n, e, o)
                    ORDER BY o RETURNING id"""
            ),
            {
                "names": [(pending[g].name or pending[g].alias_value or pending[g].email or "Unknown")[:200] for g in groups],
                "emails": [pending[g].email for g in groups],
            },
        ).scalars().all()
        created = dict(zip(groups, new_ids, strict=True))
        for p, group in group_of.items():
            resolved[p] = created[group]

    # Record every alias seen (existing ones are left as they are).
    new_aliases: dict[tuple[str, str], int] = {}
    for p, identity_id in resolved.items():
        if p.alias_type and p.alias_value and (p.alias_type, p.alias_value) not in known:
            new_aliases.setdefault((p.alias_type, p.alias_value), identity_id)
        if p.email and ("email", p.email) not in known:
            new_aliases.setdefault(("email", p.email), identity_id)
    if new_aliases:
        keys = list(new_aliases)
        session.execute(
            sa.text(
                f"""INSERT INTO "{schema}".identity_aliases (identity_id, alias_type, alias_value, source)
                    SELECT i, t, v, 'auto'
                    FROM unnest(CAST(:ids AS int[]), CAST(:types AS text[]), CAST(:vals AS text[])) AS x(i, t, v)
                    ON CONFLICT (alias_type, alias_value) DO NOTHING"""
            ),
            {"ids": [new_aliases[k] for k in keys], "types": [k[0] for k in keys], "vals": [k[1][:320] for k in keys]},
        )

    out: dict[tuple[str, str], int] = {}
    for p, identity_id in resolved.items():
        out[p.key] = identity_id  # type: ignore[index]
        if p.email:
            out.setdefault(("email", p.email), identity_id)
    return out


def add_manual_alias(session: Session, identity_id: int, alias_type: str, alias_value: str) -> None:
    """Map a tool account to a person by hand; manual mappings win over automatic matching."""
    if alias_type not in ALIAS_TYPES:
        raise ValueError(f"alias type must be one of {', '.join(ALIAS_TYPES)}")
    value = alias_value.strip().lower() if alias_type == "email" else alias_value.strip()
    schema = tenant_schema_of(session)
    session.execute(
        sa.text(
            f"""INSERT INTO "{schema}".identity_aliases (identity_id, alias_type, alias_value, source)
                VALUES (:i, :t, :v, 'manual')
                ON CONFLICT (alias_type, alias_value)
                DO UPDATE SET identity_id = EXCLUDED.identity_id, source = 'manual'"""
        ),
        {"i": identity_id, "t": alias_type, "v": value},
    )
    # Re-point rows already attributed through this alias.
    statements: list[str] = []
    if alias_type == "email":
        statements = [
            f'UPDATE "{schema}".work_items SET assignee_identity_id = :i WHERE lower(assignee_email) = :v',
            f'UPDATE "{schema}".pull_requests SET author_identity_id = :i WHERE lower(author_email) = :v',
        ]
    else:
        statements = [f'UPDATE "{schema}".work_items SET assignee_identity_id = :i WHERE assignee_account_id = :v']
        if alias_type in ("github_login", "azure_identity"):
            statements.append(f'UPDATE "{schema}".pull_requests SET author_identity_id = :i WHERE author_login = :v')
    for statement in statements:
        session.execute(sa.text(statement), {"i": identity_id, "v": value})
