"""Retention archives in an S3-compatible store: a real S3 API (moto's server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from services.archive import S3FileStore, default_store
from services.retention import archive_job, confirmation_phrase, create_job, delete_job_data, restore_job, verify_job
from tests.fakes.server import free_port
from tests.integration.test_retention_and_backup import ACTOR, _counts, tenant_with_history  # noqa: F401 - fixture

CREDS = {"access_key": "test-access", "secret_key": "test-secret", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def store(s3_endpoint: str) -> S3FileStore:
    boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="test-access", aws_secret_access_key="test-secret",
    ).create_bucket(Bucket="dmt-archives")  # fmt: skip
    return S3FileStore("dmt-archives", prefix="retention/", endpoint_url=s3_endpoint, **CREDS)


def test_quarter_round_trip_through_s3(tenant_with_history, store: S3FileStore) -> None:  # noqa: F811
    tenant, _ = tenant_with_history
    job = archive_job(create_job(tenant.id, "2025Q1", ACTOR).id, ACTOR, store)
    assert job.archive_uri.startswith("s3://dmt-archives/retention/")
    assert store.exists(job.archive_uri.removeprefix("s3://dmt-archives/retention/"))
    assert verify_job(job.id, ACTOR, store).status == "verified"
    delete_job_data(job.id, confirmation_phrase(tenant.slug, "2025Q1"), ACTOR, store)
    assert _counts(tenant)["items"] == 5
    restored = restore_job(job.id, ACTOR, store)
    assert restored["work_items"] == 5
    assert _counts(tenant) == {"items": 10, "prs": 10, "links": 10}


def test_configured_bucket_selects_the_s3_store(monkeypatch, s3_endpoint: str) -> None:
    from core.settings import reset_settings_cache

    monkeypatch.setenv("ARCHIVE_S3_BUCKET", "dmt-archives")
    monkeypatch.setenv("ARCHIVE_S3_ENDPOINT_URL", s3_endpoint)
    reset_settings_cache()
    try:
        assert isinstance(default_store(), S3FileStore)
    finally:
        monkeypatch.delenv("ARCHIVE_S3_BUCKET")
        reset_settings_cache()
