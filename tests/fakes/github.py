"""A faithful fake of the GitHub REST and GraphQL APIs (pulls, reviews, commits, comments, checks).

Payloads follow the recorded api.github.com exchanges (fixtures/public-api-samples/github):
full user objects, head/base refs with repos, ``_links``, review/commit/comment shapes.
Behaviour: Bearer/token auth (401 "Bad credentials"), ``X-RateLimit-*`` headers on every
answer and the primary rate limit (403 with remaining 0) when the dataset's quota runs
out, ``per_page``/``page`` paging with ``Link`` rel="next"/"last", weak ETags with
``If-None-Match`` -> 304 (not counted against the quota), ``state``/``sort``/``direction``,
GitHub's secondary limit (403 with ``Retry-After``) on demand (``secondary_limit_next``).
``POST /graphql`` answers GraphQL queries over the same data (see `tests.fakes.github_graphql`:
GitHub's schema for pull requests, point costs, its own quota and ``rateLimit``).
Works mounted under a prefix (``parent.mount("/github", app)``); GitHub Enterprise Server
serves REST under ``/api/v3`` and GraphQL at ``/api/graphql``: mount the app at both
``/api/v3`` and ``/api``.

    dataset = generate_dataset(seed=1, size=30, work_item_keys=["ACME-1", "ACME-2"])
    app = create_app(dataset, FaultControls())

Change data between syncs with `update_pull`, `add_review`, `add_comment`, `add_review_comment`,
`add_commit`, `add_check_run`, `add_label`, `request_review`.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes import github_graphql
from tests.fakes.azure_boards import DEFAULT_PEOPLE, login_of
from tests.fakes.github_graphql import pull_stats
from tests.fakes.server import FaultControls, install_faults

DEFAULT_TOKEN = "ghp_fake0123456789abcdefghijklmnopqrstuv"
DOCS = "https://docs.github.com/rest"

VERBS = ["add", "fix", "refactor", "cover", "speed up", "document"]
THINGS = ["login tests", "invoice export", "password reset", "order history", "audit log", "search", "2FA flow"]


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_id(login: str) -> int:
    return int(hashlib.sha256(login.encode()).hexdigest()[:7], 16)


def user_object(login: str) -> dict[str, Any]:
    """A GitHub simple-user object as embedded in pulls, reviews and comments."""
    api = f"https://api.github.com/users/{login}"
    uid = _user_id(login)
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
    }


def repo_object(full_name: str, repo_id: int) -> dict[str, Any]:
    owner, name = full_name.split("/")
    api = f"https://api.github.com/repos/{full_name}"
    return {
        "id": repo_id,
        "node_id": f"MDEwOlJlcG9zaXRvcnk{repo_id}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": {**user_object(owner), "type": "Organization"},
        "html_url": f"https://github.com/{full_name}",
        "description": f"{name} service",
        "fork": False,
        "url": api,
        "pulls_url": f"{api}/pulls{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "created_at": "2021-03-01T10:00:00Z",
        "updated_at": "2024-01-01T10:00:00Z",
        "pushed_at": "2024-01-01T10:00:00Z",
        "default_branch": "main",
        "visibility": "private",
        "archived": False,
        "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    }


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _pull(
    full_name: str,
    repo: dict[str, Any],
    number: int,
    pull_id: int,
    title: str,
    body: str,
    branch: str,
    author: str,
    created: datetime,
    head_sha: str,
    base_sha: str,
) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{full_name}"
    html = f"https://github.com/{full_name}/pull/{number}"
    owner = full_name.split("/")[0]
    return {
        "url": f"{api}/pulls/{number}",
        "id": pull_id,
        "node_id": f"PR_kwDO{pull_id}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{number}",
        "number": number,
        "state": "open",
        "locked": False,
        "title": title,
        "user": user_object(author),
        "body": body,
        "created_at": ts(created),
        "updated_at": ts(created),
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "milestone": None,
        "draft": False,
        "commits_url": f"{api}/pulls/{number}/commits",
        "review_comments_url": f"{api}/pulls/{number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": f"{api}/statuses/{head_sha}",
        "head": {
            "label": f"{owner}:{branch}",
            "ref": branch,
            "sha": head_sha,
            "user": user_object(owner),
            "repo": repo,
        },
        "base": {"label": f"{owner}:main", "ref": "main", "sha": base_sha, "user": user_object(owner), "repo": repo},
        "_links": {
            "self": {"href": f"{api}/pulls/{number}"},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{number}"},
            "comments": {"href": f"{api}/issues/{number}/comments"},
            "review_comments": {"href": f"{api}/pulls/{number}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{number}/commits"},
            "statuses": {"href": f"{api}/statuses/{head_sha}"},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
    }


def generate_dataset(
    seed: int = 1,
    size: int = 40,
    *,
    repositories: list[str] | None = None,
    work_item_keys: list[str] | None = None,
    people: list[dict[str, Any]] | None = None,
    token: str = DEFAULT_TOKEN,
    now: datetime | None = None,
    days: int = 84,
    signoff_marker: str = "DMT-OK",
    rate_limit: int = 5000,
) -> dict[str, Any]:
    """`size` pull requests spread over `repositories` and the last `days` days.

    Titles and branches reference `work_item_keys` ("ACME-12 add login tests",
    "feature/ACME-12-login-tests") so linking works across tools; about one PR in
    eight mentions no key at all.
    """
    rng = random.Random(seed)
    people = people or DEFAULT_PEOPLE
    repositories = repositories or ["acme/shop"]
    keys = list(work_item_keys or [f"ACME-{n}" for n in range(1, size + 1)])
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    origin = now - timedelta(days=days)
    repos: dict[str, dict[str, Any]] = {}
    for index, full_name in enumerate(repositories):
        repos[full_name] = {
            "repo": repo_object(full_name, 100_000 + index),
            "pulls": {},
            "reviews": {},
            "commits": {},
            "comments": {},
            "review_comments": {},
            "check_runs": {},
            "statuses": {},
            "labels": [
                {"id": 1, "name": "bug", "color": "d73a4a", "default": True, "description": "Something isn't working"},
                {"id": 2, "name": "dmt-signed-off", "color": "0e8a16", "default": False, "description": "DMT sign-off"},
                {"id": 3, "name": "needs-tests", "color": "fbca04", "default": False, "description": None},
            ],
        }
    next_id = 1_000_000 + seed * 10_000
    for n in range(size):
        full_name = repositories[n % len(repositories)]
        store = repos[full_name]
        number = len(store["pulls"]) + 1
        author = people[n % len(people)]
        others = [p for p in people if login_of(p) != login_of(author)]
        key = keys[n % len(keys)] if keys and n % 8 != 7 else None
        thing = rng.choice(THINGS)
        verb = rng.choice(VERBS)
        slug = thing.replace(" ", "-").lower()
        if key and n % 5 == 3:  # key only in the body
            title, branch, body = (
                f"{verb.capitalize()} {thing}",
                f"feature/{slug}",
                f"Implements {key}.\n\nSee the story.",
            )
        elif key:
            title, branch, body = f"{key} {verb} {thing}", f"feature/{key}-{slug}", f"Part of {key}."
        else:
            title, branch, body = f"Chore: {verb} {thing}", f"chore/{slug}-{n}", None
        created = origin + timedelta(minutes=rng.randint(0, days * 24 * 60 - 600))
        head_sha, base_sha = _sha(rng), _sha(rng)
        next_id += 1
        pull = _pull(
            full_name,
            store["repo"],
            number,
            next_id,
            title,
            body or "",
            branch,
            login_of(author),
            created,
            head_sha,
            base_sha,
        )
        if body is None:
            pull["body"] = None
        moment = created
        commits = []
        commit_count = rng.randint(1, 4)
        for c in range(commit_count):
            moment += timedelta(minutes=rng.randint(5, 240))
            sha = head_sha if c == commit_count - 1 else _sha(rng)  # the head is the last commit
            git_author = {"name": author["name"], "email": author["email"], "date": ts(moment)}
            commits.append(
                {
                    "sha": sha,
                    "node_id": f"C_{sha[:10]}",
                    "commit": {
                        "author": git_author,
                        "committer": git_author,
                        "message": f"{key + ' ' if key and c == 0 else ''}{verb} {thing} (part {c + 1})",
                        "tree": {"sha": _sha(rng), "url": f"https://api.github.com/repos/{full_name}/git/trees/x"},
                        "url": f"https://api.github.com/repos/{full_name}/git/commits/{sha}",
                        "comment_count": 0,
                        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
                    },
                    "url": f"https://api.github.com/repos/{full_name}/commits/{sha}",
                    "html_url": f"https://github.com/{full_name}/commit/{sha}",
                    "comments_url": f"https://api.github.com/repos/{full_name}/commits/{sha}/comments",
                    "author": user_object(login_of(author)),
                    "committer": user_object(login_of(author)),
                    "parents": [
                        {"sha": base_sha, "url": f"https://api.github.com/repos/{full_name}/commits/{base_sha}"}
                    ],
                }
            )
        reviews, comments = [], []
        outcome = rng.random()
        review_id = next_id * 10
        if outcome < 0.85:
            for reviewer in rng.sample(others, k=min(len(others), rng.randint(1, 2))):
                moment += timedelta(minutes=rng.randint(30, 1440))
                state = "APPROVED" if rng.random() < 0.75 else rng.choice(["COMMENTED", "CHANGES_REQUESTED"])
                review_id += 1
                reviews.append(_review(full_name, number, review_id, login_of(reviewer), state, moment, head_sha, ""))
                if state == "APPROVED" and rng.random() < 0.65:
                    moment += timedelta(minutes=rng.randint(1, 60))
                    comments.append(
                        _comment(
                            full_name,
                            number,
                            review_id * 3,
                            login_of(reviewer),
                            f"Tests reviewed. {signoff_marker}",
                            moment,
                        )
                    )
        if rng.random() < 0.4:
            moment += timedelta(minutes=rng.randint(5, 300))
            comments.append(
                _comment(full_name, number, review_id * 3 + 1, login_of(author), "Addressed the comments.", moment)
            )
        if outcome < 0.7 and any(r["state"] == "APPROVED" for r in reviews):
            moment += timedelta(minutes=rng.randint(10, 600))
            pull.update(
                {"state": "closed", "merged_at": ts(moment), "closed_at": ts(moment), "merge_commit_sha": _sha(rng)}
            )
        elif outcome > 0.93:
            moment += timedelta(minutes=rng.randint(10, 600))
            pull.update({"state": "closed", "closed_at": ts(moment)})
        elif rng.random() < 0.2:
            pull["draft"] = True
        pull["updated_at"] = ts(min(moment + timedelta(minutes=1), now))
        conclusion = rng.choices(["success", "failure", None], weights=[7, 2, 1])[0]
        store["check_runs"][head_sha] = [_check_run(full_name, next_id, head_sha, "build-and-test", conclusion, moment)]
        store["statuses"][head_sha] = (
            [_status(full_name, next_id, "coverage", "success" if conclusion == "success" else "pending", moment)]
            if rng.random() < 0.5
            else []
        )
        store["pulls"][number] = pull
        store["reviews"][number] = reviews
        store["commits"][number] = commits
        store["comments"][number] = comments
        # Review comments, review requests and labels draw from their own generator, so the
        # reviews, merges and CI outcomes above stay what they were for a given seed.
        extra = random.Random(seed * 1_000_003 + n)
        store["review_comments"][number] = [
            _review_comment(full_name, number, review, k, review["submitted_at"])
            for review in reviews
            if review["state"] in ("CHANGES_REQUESTED", "COMMENTED")
            for k in range(extra.randint(1, 3))
        ]
        reviewed = {r["user"]["login"] for r in reviews}
        if pull["state"] == "open" and extra.random() < 0.5:
            waiting = [login_of(p) for p in others if login_of(p) not in reviewed]
            if waiting:
                pull["requested_reviewers"] = [user_object(extra.choice(waiting))]
        if extra.random() < 0.25:
            pull["labels"] = [_label_object(full_name, store["labels"][2])]
    return {
        "token": token,
        "user": next(iter(people)),
        "people": people,
        "repos": repos,
        "rate_limit": {"limit": rate_limit, "remaining": rate_limit, "reset": int(time.time()) + 3600},
        # GraphQL has its own quota, in points (a query's cost), as on GitHub.
        "graphql_rate_limit": {"limit": rate_limit, "remaining": rate_limit, "reset": int(time.time()) + 3600},
        "graphql_queries": 0,  # answered GraphQL queries, the points they cost, queries refused for the quota
        "graphql_points": 0,
        "graphql_rejected": 0,
        "secondary_limit_next": 0,  # answer the next N requests with GitHub's secondary-limit 403
        "malformed_next": 0,
        "now": now,
    }


def _review(
    full_name: str, number: int, review_id: int, login: str, state: str, when: datetime, sha: str, body: str
) -> dict[str, Any]:
    html = f"https://github.com/{full_name}/pull/{number}#pullrequestreview-{review_id}"
    return {
        "id": review_id,
        "node_id": f"PRR_{review_id}",
        "user": user_object(login),
        "body": body,
        "state": state,
        "html_url": html,
        "pull_request_url": f"https://api.github.com/repos/{full_name}/pulls/{number}",
        "author_association": "MEMBER",
        "_links": {
            "html": {"href": html},
            "pull_request": {"href": f"https://api.github.com/repos/{full_name}/pulls/{number}"},
        },
        "submitted_at": ts(when),
        "commit_id": sha,
    }


def _comment(full_name: str, number: int, comment_id: int, login: str, body: str, when: datetime) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{full_name}/issues/comments/{comment_id}",
        "html_url": f"https://github.com/{full_name}/pull/{number}#issuecomment-{comment_id}",
        "issue_url": f"https://api.github.com/repos/{full_name}/issues/{number}",
        "id": comment_id,
        "node_id": f"IC_{comment_id}",
        "user": user_object(login),
        "created_at": ts(when),
        "updated_at": ts(when),
        "author_association": "MEMBER",
        "body": body,
        "reactions": {"total_count": 0, "+1": 0, "-1": 0},
        "performed_via_github_app": None,
    }


def _review_comment(full_name: str, number: int, review: dict[str, Any], index: int, when: str) -> dict[str, Any]:
    """An inline comment of `review` (GET /pulls/{n}/comments element)."""
    comment_id = review["id"] * 10 + index
    html = f"https://github.com/{full_name}/pull/{number}#discussion_r{comment_id}"
    return {
        "url": f"https://api.github.com/repos/{full_name}/pulls/comments/{comment_id}",
        "pull_request_review_id": review["id"],
        "id": comment_id,
        "node_id": f"PRRC_{comment_id}",
        "diff_hunk": "@@ -1,3 +1,4 @@",
        "path": "src/app.py",
        "commit_id": review["commit_id"],
        "original_commit_id": review["commit_id"],
        "user": review["user"],
        "body": ["Please cover the empty case.", "Nit: rename this.", "Why not reuse the helper?"][index % 3],
        "created_at": when,
        "updated_at": when,
        "html_url": html,
        "pull_request_url": f"https://api.github.com/repos/{full_name}/pulls/{number}",
        "author_association": "MEMBER",
        "line": 10 + index,
        "side": "RIGHT",
    }


def _label_object(full_name: str, label: dict[str, Any]) -> dict[str, Any]:
    return {
        **label,
        "node_id": f"LA_{label['id']}",
        "url": f"https://api.github.com/repos/{full_name}/labels/{label['name']}",
    }


def _check_run(
    full_name: str, run_id: int, sha: str, name: str, conclusion: str | None, when: datetime
) -> dict[str, Any]:
    return {
        "id": run_id,
        "head_sha": sha,
        "node_id": f"CR_{run_id}",
        "external_id": "",
        "url": f"https://api.github.com/repos/{full_name}/check-runs/{run_id}",
        "html_url": f"https://github.com/{full_name}/runs/{run_id}",
        "details_url": f"https://github.com/{full_name}/actions/runs/{run_id}",
        "status": "completed" if conclusion else "in_progress",
        "conclusion": conclusion,
        "started_at": ts(when),
        "completed_at": ts(when + timedelta(minutes=7)) if conclusion else None,
        "output": {"title": f"{name} {conclusion or 'running'}", "summary": "", "text": None, "annotations_count": 0},
        "name": name,
        "check_suite": {"id": run_id},
        "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
        "pull_requests": [],
    }


def _status(full_name: str, status_id: int, context: str, state: str, when: datetime) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{full_name}/statuses/{status_id}",
        "id": status_id,
        "node_id": f"SC_{status_id}",
        "state": state,
        "description": f"{context} {state}",
        "target_url": f"https://ci.acme.example/{full_name}/{status_id}",
        "context": context,
        "created_at": ts(when),
        "updated_at": ts(when),
        "avatar_url": None,
    }


# --------------------------------------------------------------------------- mutations between syncs
def update_pull(
    dataset: dict[str, Any], repo: str, number: int, changes: dict[str, Any], when: datetime | None = None
) -> None:
    """Edit a pull request (title, state, merged_at...) and bump its updated_at."""
    pull = dataset["repos"][repo]["pulls"][number]
    pull.update(changes)
    pull["updated_at"] = ts(when or datetime.now(UTC))


def add_review(
    dataset: dict[str, Any],
    repo: str,
    number: int,
    login: str,
    state: str = "APPROVED",
    body: str = "",
    when: datetime | None = None,
) -> None:
    when = when or datetime.now(UTC)
    store = dataset["repos"][repo]
    pull = store["pulls"][number]
    review_id = max([r["id"] for r in store["reviews"][number]] + [pull["id"] * 10]) + 1
    store["reviews"][number].append(_review(repo, number, review_id, login, state, when, pull["head"]["sha"], body))
    pull["updated_at"] = ts(when)


def add_comment(
    dataset: dict[str, Any], repo: str, number: int, login: str, body: str, when: datetime | None = None
) -> None:
    when = when or datetime.now(UTC)
    store = dataset["repos"][repo]
    comment_id = max([c["id"] for c in store["comments"][number]] + [store["pulls"][number]["id"] * 30]) + 1
    store["comments"][number].append(_comment(repo, number, comment_id, login, body, when))
    store["pulls"][number]["updated_at"] = ts(when)


def add_review_comment(
    dataset: dict[str, Any], repo: str, number: int, login: str, body: str, when: datetime | None = None
) -> None:
    """An inline comment by `login`: on GitHub a single comment is a COMMENTED review holding it."""
    when = when or datetime.now(UTC)
    add_review(dataset, repo, number, login, "COMMENTED", "", when)
    store = dataset["repos"][repo]
    review = store["reviews"][number][-1]
    comment = _review_comment(repo, number, review, 0, ts(when))
    comment["body"] = body
    store["review_comments"][number].append(comment)


def add_commit(dataset: dict[str, Any], repo: str, number: int, message: str, when: datetime | None = None) -> None:
    """Push a commit by the PR's author: it becomes the head commit (its checks move along, as if CI re-ran)."""
    when = when or datetime.now(UTC)
    store = dataset["repos"][repo]
    pull = store["pulls"][number]
    commits = store["commits"][number]
    sha = hashlib.sha256(f"{repo}#{number}:{len(commits)}:{message}".encode()).hexdigest()[:40]
    template = commits[-1]
    git_author = {**template["commit"]["author"], "date": ts(when)}
    commits.append(
        {
            **template,
            "sha": sha,
            "node_id": f"C_{sha[:10]}",
            "commit": {**template["commit"], "author": git_author, "committer": git_author, "message": message},
            "url": f"https://api.github.com/repos/{repo}/commits/{sha}",
            "html_url": f"https://github.com/{repo}/commit/{sha}",
        }
    )
    old_sha = pull["head"]["sha"]
    pull["head"] = {**pull["head"], "sha": sha}
    store["check_runs"][sha] = store["check_runs"].pop(old_sha, [])
    store["statuses"][sha] = store["statuses"].pop(old_sha, [])
    pull["updated_at"] = ts(when)


def add_check_run(
    dataset: dict[str, Any], repo: str, number: int, name: str, conclusion: str | None, when: datetime | None = None
) -> None:
    """A check run on the PR's head commit (`conclusion` None: still running); does not bump updated_at."""
    when = when or datetime.now(UTC)
    store = dataset["repos"][repo]
    sha = store["pulls"][number]["head"]["sha"]
    runs = store["check_runs"].setdefault(sha, [])
    run_id = store["pulls"][number]["id"] * 100 + len(runs)
    runs.append(_check_run(repo, run_id, sha, name, conclusion, when))


def add_label(dataset: dict[str, Any], repo: str, number: int, name: str, when: datetime | None = None) -> None:
    """Label the PR (a new repository label when the name is new) and bump its updated_at."""
    store = dataset["repos"][repo]
    label = next((lb for lb in store["labels"] if lb["name"] == name), None)
    if label is None:
        label = {"id": len(store["labels"]) + 1, "name": name, "color": "ededed", "default": False, "description": None}
        store["labels"].append(label)
    store["pulls"][number]["labels"].append(_label_object(repo, label))
    store["pulls"][number]["updated_at"] = ts(when or datetime.now(UTC))


def request_review(dataset: dict[str, Any], repo: str, number: int, login: str, when: datetime | None = None) -> None:
    """Ask `login` for a review and bump the PR's updated_at."""
    pull = dataset["repos"][repo]["pulls"][number]
    pull["requested_reviewers"].append(user_object(login))
    pull["updated_at"] = ts(when or datetime.now(UTC))


# --------------------------------------------------------------------------- app
def create_app(dataset: dict[str, Any], controls: FaultControls | None = None) -> FastAPI:
    """The fake GitHub API serving `dataset`; works mounted under a prefix."""
    app = FastAPI(title="fake GitHub")
    app.state.dataset = dataset
    quota = dataset["rate_limit"]

    def limit_headers() -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(quota["limit"]),
            "X-RateLimit-Remaining": str(quota["remaining"]),
            "X-RateLimit-Reset": str(quota["reset"]),
            "X-RateLimit-Used": str(quota["limit"] - quota["remaining"]),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
        }

    @app.middleware("http")
    async def auth_and_quota(request: Request, call_next):  # type: ignore[no-untyped-def]
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or credential != dataset["token"]:
            return JSONResponse(
                {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
                status_code=401,
                headers=limit_headers(),
            )
        if dataset.get("secondary_limit_next", 0) > 0:
            dataset["secondary_limit_next"] -= 1
            return JSONResponse(
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    "status": "403",
                },
                status_code=403,
                headers={**limit_headers(), "Retry-After": "0"},
            )
        if request.scope["path"].endswith("/graphql"):
            return await call_next(request)  # GraphQL counts points against its own quota
        if quota["remaining"] <= 0:
            return JSONResponse(
                {
                    "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                    "please include the request ID.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                    "status": "403",
                },
                status_code=403,
                headers=limit_headers(),
            )
        response = await call_next(request)
        if response.status_code != 304:  # conditional hits are free, as on GitHub
            quota["remaining"] -= 1
        for name, value in limit_headers().items():
            response.headers[name] = value
        return response

    if controls is not None:
        install_faults(app, controls)  # outermost: faults answer before auth, like a proxy in front

    def repo_store(owner: str, repo: str) -> dict[str, Any] | None:
        return dataset["repos"].get(f"{owner}/{repo}")

    def not_found() -> JSONResponse:
        return JSONResponse({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, status_code=404)

    def respond(request: Request, payload: Any, items: list[Any] | None = None) -> Response:
        """JSON with a weak ETag (304 on If-None-Match); `items` are paged with Link headers."""
        headers: dict[str, str] = {}
        if items is not None:
            per_page = max(1, min(100, int(request.query_params.get("per_page", 30))))
            page = max(1, int(request.query_params.get("page", 1)))
            last = max(1, -(-len(items) // per_page))
            payload = items[(page - 1) * per_page : page * per_page]
            links = []

            def link(n: int) -> str:
                return str(request.url.include_query_params(page=n, per_page=per_page))

            if page < last:
                links += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
            if page > 1:
                links += [f'<{link(page - 1)}>; rel="prev"', f'<{link(1)}>; rel="first"']
            if links:
                headers["Link"] = ", ".join(links)
        if dataset.get("malformed_next", 0) > 0:
            dataset["malformed_next"] -= 1
            return Response('{"message": "Server Error", "truncated', media_type="application/json")
        content = json.dumps(payload, separators=(",", ":")).encode()
        etag = f'W/"{hashlib.sha256(content).hexdigest()[:32]}"'
        headers.update(
            {
                "ETag": etag,
                "Cache-Control": "private, max-age=60, s-maxage=60",
                "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            }
        )
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(content, media_type="application/json; charset=utf-8", headers=headers)

    @app.get("/user")
    async def get_user(request: Request) -> Response:
        person = dataset["user"]
        return respond(
            request,
            {
                **user_object(login_of(person)),
                "name": person["name"],
                "email": person["email"],
                "company": "ACME",
                "created_at": "2015-01-01T00:00:00Z",
            },
        )

    @app.get("/repos/{owner}/{repo}")
    async def get_repo(request: Request, owner: str, repo: str) -> Response:
        store = repo_store(owner, repo)
        return respond(request, store["repo"]) if store else not_found()

    @app.get("/repos/{owner}/{repo}/labels")
    async def labels(request: Request, owner: str, repo: str) -> Response:
        store = repo_store(owner, repo)
        if not store:
            return not_found()
        return respond(
            request,
            None,
            [
                {
                    **label,
                    "node_id": f"LA_{label['id']}",
                    "url": f"https://api.github.com/repos/{owner}/{repo}/labels/{label['name']}",
                }
                for label in store["labels"]
            ],
        )

    @app.get("/repos/{owner}/{repo}/pulls")
    async def list_pulls(request: Request, owner: str, repo: str) -> Response:
        store = repo_store(owner, repo)
        if not store:
            return not_found()
        state = request.query_params.get("state", "open")
        sort = request.query_params.get("sort", "created")
        descending = request.query_params.get("direction", "desc") == "desc"
        if sort not in ("created", "updated", "popularity", "long-running"):
            return JSONResponse(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Search", "field": "sort", "code": "invalid"}],
                    "documentation_url": DOCS,
                    "status": "422",
                },
                status_code=422,
            )
        pulls = [p for p in store["pulls"].values() if state == "all" or p["state"] == state]
        key = "updated_at" if sort == "updated" else "created_at"
        pulls.sort(key=lambda p: (p[key], p["number"]), reverse=descending)
        return respond(request, None, pulls)

    @app.get("/repos/{owner}/{repo}/pulls/{number}")
    async def get_pull(request: Request, owner: str, repo: str, number: int) -> Response:
        store = repo_store(owner, repo)
        if not store or number not in store["pulls"]:
            return not_found()
        pull = store["pulls"][number]
        detail = {
            **pull,
            "merged": bool(pull["merged_at"]),
            "mergeable": None,
            "rebaseable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "maintainer_can_modify": False,
            **pull_stats(store, number),
        }
        return respond(request, detail)

    @app.get("/repos/{owner}/{repo}/pulls/{number}/comments")
    async def review_comments(request: Request, owner: str, repo: str, number: int) -> Response:
        store = repo_store(owner, repo)
        if not store or number not in store["pulls"]:
            return not_found()
        return respond(request, None, store["review_comments"][number])

    @app.get("/repos/{owner}/{repo}/pulls/{number}/reviews")
    async def reviews(request: Request, owner: str, repo: str, number: int) -> Response:
        store = repo_store(owner, repo)
        if not store or number not in store["pulls"]:
            return not_found()
        return respond(request, None, store["reviews"][number])

    @app.get("/repos/{owner}/{repo}/pulls/{number}/commits")
    async def commits(request: Request, owner: str, repo: str, number: int) -> Response:
        store = repo_store(owner, repo)
        if not store or number not in store["pulls"]:
            return not_found()
        return respond(request, None, store["commits"][number])

    @app.get("/repos/{owner}/{repo}/issues/{number}/comments")
    async def comments(request: Request, owner: str, repo: str, number: int) -> Response:
        store = repo_store(owner, repo)
        if not store or number not in store["pulls"]:
            return not_found()
        return respond(request, None, store["comments"][number])

    @app.get("/repos/{owner}/{repo}/commits/{sha}/check-runs")
    async def check_runs(request: Request, owner: str, repo: str, sha: str) -> Response:
        store = repo_store(owner, repo)
        if not store:
            return not_found()
        runs = store["check_runs"].get(sha, [])
        return respond(request, {"total_count": len(runs), "check_runs": runs})

    @app.get("/repos/{owner}/{repo}/commits/{sha}/status")
    async def combined_status(request: Request, owner: str, repo: str, sha: str) -> Response:
        store = repo_store(owner, repo)
        if not store:
            return not_found()
        statuses = store["statuses"].get(sha, [])
        states = {s["state"] for s in statuses}
        state = (
            "failure"
            if states & {"failure", "error"}
            else ("pending" if "pending" in states or not statuses else "success")
        )
        return respond(
            request,
            {
                "state": state,
                "statuses": statuses,
                "sha": sha,
                "total_count": len(statuses),
                "repository": store["repo"],
                "commit_url": f"https://api.github.com/repos/{owner}/{repo}/commits/{sha}",
                "url": f"https://api.github.com/repos/{owner}/{repo}/commits/{sha}/status",
            },
        )

    @app.post("/graphql")
    async def graphql(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"message": "Problems parsing JSON", "documentation_url": DOCS}, status_code=400)
        status, payload, headers = github_graphql.answer(dataset, body)
        return JSONResponse(payload, status_code=status, headers=headers)

    return app
