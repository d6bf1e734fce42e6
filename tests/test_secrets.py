"""No secret is committed: detect-secrets scans every tracked file.

The values below are deliberate and not secrets: each says why it may stay. Anything else
the scanner finds fails the test, with its file, line and kind; a real credential belongs
in the environment (OB__KAFKA__SASL_PASSWORD, a Kubernetes Secret), never in the tree.
"""

import hashlib
import subprocess
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]

# (file, value): why it is allowed. Matched by the value's SHA-1, as the scanner reports it.
ALLOWED: dict[tuple[str, str], str] = {
    ("helm/orderbook-platform/values.yaml", "orderbook-secret"): (
        "the bundled dev S3 server's key, the same local default as S3Settings; the chart "
        "says to set your own"
    ),
    ("helm/orderbook-platform/values.yaml", "dagster"): (
        "the bundled dev Postgres password, ignored with existingSecret"
    ),
    ("tests/helm/chart.py", "kafka-password"): "a made-up value the chart tests render",
    ("tests/helm/test_chart.py", "kafka-password"): "the chart tests' made-up value",
    ("tests/helm/chart.py", "dagster-db-password"): "the name of a Kubernetes Secret",
    ("tests/helm/test_chart.py", "dagster-db-password"): "the name of a Kubernetes Secret",
    ("tests/helm/chart.py", "orderbook-settings"): "the name of a Kubernetes Secret",
    ("tests/helm/chart.py", "kafka-ca"): "the name of a Kubernetes Secret",
    ("tests/helm/test_chart.py", "kafka-ca"): "the name of a Kubernetes Secret",
    ("tests/orderbook_platform/stack/test_sasl_stack.py", "not-the-password"): (
        "the wrong password the SASL test is refused with"
    ),
    ("tests/orderbook_platform/test_java_client_options.py", "s3cret"): (
        "a made-up password the JAAS tests parse back"
    ),
}


def _sha1(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()


def scan(paths: list[str], root: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, kind, hash) of every finding of detect-secrets' default plugins."""
    findings = SecretsCollection(root=str(root))
    with default_settings():
        findings.scan_files(*paths)
    return sorted(
        (path, secret.line_number, secret.type, secret.secret_hash)
        for path, secrets in findings.data.items()
        for secret in secrets
    )


def unexpected(findings: list[tuple[str, int, str, str]]) -> list[str]:
    allowed = {(path, _sha1(value)) for path, value in ALLOWED}
    return [
        f"{path}:{line}: {kind}"
        for path, line, kind, digest in findings
        if (path, digest) not in allowed
    ]


def test_no_tracked_file_holds_a_secret():
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    paths = [p for p in tracked.split("\0") if p and (REPO / p).is_file()]
    assert len(paths) > 100, "git ls-files found too few files to be this repository"
    found = scan(paths, REPO)
    assert unexpected(found) == [], "secrets in tracked files (or add a reviewed ALLOWED entry)"
    # Every allowance still matches something: a stale one would hide nothing but mislead.
    seen = {(path, digest) for path, _, _, digest in found}
    stale = [key for key in ALLOWED if (key[0], _sha1(key[1])) not in seen]
    assert stale == []


def test_the_scan_catches_a_cloud_key_and_a_private_key(tmp_path):
    # Built at run time, so that this file itself holds no key for the scan to find.
    aws_key_id = "AKIA" + "QYLPMN5HHHFPZAM2"
    private_key = (
        "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    )
    leaky = tmp_path / "deploy.py"
    leaky.write_text(f'AWS_ACCESS_KEY_ID = "{aws_key_id}"\nKEY = """{private_key}"""\n')
    quiet = tmp_path / "settings.py"
    quiet.write_text('bucket = "orderbook"\nregion = "us-east-1"\n')
    found = scan(["deploy.py", "settings.py"], tmp_path)
    kinds = {kind for path, _, kind, _ in found if path == "deploy.py"}
    assert {"AWS Access Key", "Private Key"} <= kinds, found
    assert not [f for f in found if f[0] == "settings.py"]
    assert "deploy.py:1: AWS Access Key" in unexpected(found)
