"""KafkaSettings.java_client_options: what Spark's Kafka source (a Java client) is given."""

import re

import pytest
from pydantic import SecretStr

from orderbook_platform.config import ConfigError, KafkaSettings

pytestmark = pytest.mark.unit

PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
OAUTH_MODULE = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
OIDC_HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"

_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "f": "\f", "r": "\r", "a": "\a", "v": "\v"}


def _quoted(text: str, start: int) -> tuple[str, int]:
    """A double-quoted token as java.io.StreamTokenizer reads it (Kafka's JaasConfig uses
    it): backslash escapes, octal escapes, and a line break that ends the string."""
    out: list[str] = []
    i = start + 1
    while i < len(text) and text[i] != '"' and text[i] not in "\r\n":
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567":
                j = i + 1
                while j < len(text) and j < i + 4 and text[j] in "01234567":
                    j += 1
                out.append(chr(int(text[i + 1 : j], 8)))
                i = j
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out), i + 1


def parse_jaas(text: str) -> tuple[str, str, dict[str, str]]:
    """(login module, control flag, options) of a one-entry JAAS config."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == '"':
            token, i = _quoted(text, i)
            tokens.append(token)
        elif char in "=;":
            tokens.append(char)
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in '=;"':
                j += 1
            tokens.append(text[i:j])
            i = j
    module, flag, *rest = tokens
    assert rest[-1] == ";", tokens
    options: dict[str, str] = {}
    body = rest[:-1]
    assert len(body) % 3 == 0, tokens
    for key, equals, value in zip(body[0::3], body[1::3], body[2::3], strict=True):
        assert equals == "=", tokens
        options[key] = value
    return module, flag, options


def kafka(**fields) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers="broker:9094", **fields)


@pytest.mark.parametrize(
    ("mechanism", "module"),
    [("PLAIN", PLAIN_MODULE), ("SCRAM-SHA-256", SCRAM_MODULE), ("SCRAM-SHA-512", SCRAM_MODULE)],
)
def test_each_password_mechanism_gets_its_login_module(mechanism, module):
    options = kafka(
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="alice",
        sasl_password=SecretStr("s3cret"),
    ).java_client_options()
    assert options["sasl.mechanism"] == mechanism
    assert options["security.protocol"] == "SASL_SSL"
    assert parse_jaas(options["sasl.jaas.config"]) == (
        module,
        "required",
        {"username": "alice", "password": "s3cret"},
    )


@pytest.mark.parametrize(
    "password",
    [
        'pa"ss',
        "back\\slash",
        "trailing\\",
        '\\"',
        'x" evil="1',
        'x"; com.example.Other required a="b',
        "\\n\\t\\123",
        "ünïcödé ∑ and spaces",
        "semi;colon=equals",
    ],
)
def test_hostile_passwords_round_trip_through_the_jaas_parser(password):
    options = kafka(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username='al"ice\\',
        sasl_password=SecretStr(password),
    ).java_client_options()
    module, flag, parsed = parse_jaas(options["sasl.jaas.config"])
    assert (module, flag) == (SCRAM_MODULE, "required")
    assert parsed == {"username": 'al"ice\\', "password": password}


def test_a_password_with_a_line_break_is_refused_not_cut():
    settings = kafka(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="alice",
        sasl_password=SecretStr("line\nbreak"),
    )
    with pytest.raises(ConfigError, match="line break"):
        settings.java_client_options()


def test_a_password_mechanism_without_credentials_is_refused():
    settings = kafka(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
    with pytest.raises(
        ConfigError, match=re.escape("needs kafka.sasl_username and kafka.sasl_password")
    ):
        settings.java_client_options()


def test_oauthbearer_oidc_settings_become_the_oauth_login_module():
    settings = kafka(
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        extra={
            "sasl.oauthbearer.method": "oidc",
            "sasl.oauthbearer.client.id": "spark-client",
            "sasl.oauthbearer.client.secret": 'se"cr\\et',
            "sasl.oauthbearer.scope": "kafka.read",
            "sasl.oauthbearer.extensions": "logicalCluster=lkc-1,identityPoolId=pool-2",
            "sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
        },
    )
    options = settings.java_client_options()
    assert parse_jaas(options["sasl.jaas.config"]) == (
        OAUTH_MODULE,
        "required",
        {
            "clientId": "spark-client",
            "clientSecret": 'se"cr\\et',
            "scope": "kafka.read",
            "extension_logicalCluster": "lkc-1",
            "extension_identityPoolId": "pool-2",
        },
    )
    assert options["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/token"
    assert options["sasl.login.callback.handler.class"] == OIDC_HANDLER
    # librdkafka's names are translated, not passed on (the secret must not travel twice).
    assert "sasl.oauthbearer.client.secret" not in options
    assert "sasl.oauthbearer.method" not in options
    # librdkafka itself gets them as they are.
    assert settings.client_config()["sasl.oauthbearer.client.id"] == "spark-client"


def test_oauthbearer_without_oidc_is_refused_with_what_to_set():
    settings = kafka(
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        sasl_username="alice",
        sasl_password=SecretStr("s3cret"),
    )
    with pytest.raises(ConfigError, match=re.escape("sasl.oauthbearer.method=oidc")):
        settings.java_client_options()


def test_a_jaas_config_in_java_extra_replaces_the_built_one():
    jaas = f'{OAUTH_MODULE} required unsecuredLoginStringClaim_sub="alice";'
    options = kafka(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        java_extra={"sasl.jaas.config": jaas},
    ).java_client_options()
    assert options["sasl.jaas.config"] == jaas


def test_extra_reaches_java_clients_as_strings_and_java_extra_wins():
    settings = kafka(
        extra={
            "client.dns.lookup": "use_all_dns_ips",
            "request.timeout.ms": 45000,
            "ssl.endpoint.identification.algorithm": "https",
            "socket.keepalive.enable": True,
        },
        java_extra={"ssl.endpoint.identification.algorithm": "", "metadata.max.age.ms": 60000},
    )
    options = settings.java_client_options()
    assert options["client.dns.lookup"] == "use_all_dns_ips"
    assert options["request.timeout.ms"] == "45000"
    assert options["socket.keepalive.enable"] == "true"
    assert options["ssl.endpoint.identification.algorithm"] == ""
    assert options["metadata.max.age.ms"] == "60000"
    assert all(isinstance(v, str) for v in options.values())
    librdkafka = settings.client_config()
    assert librdkafka["request.timeout.ms"] == 45000
    assert "metadata.max.age.ms" not in librdkafka, "java_extra is for Java clients only"
