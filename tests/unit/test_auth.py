"""API keys: configured (never built in), named, stored as digests, compared in constant time; the
guards' text checks."""

from __future__ import annotations

import hmac

import pytest
from fastapi import APIRouter, Depends

from shared.app import api_router, create_app
from shared.auth import ApiKeys, ApiKeysMissing, ReadKey, WriteKey, require_keys, require_scope, secret_digest
from shared.errors import ApiError
from shared.guards import ApiRoute, bad_text, check_json_text, find_bad_text
from shared.settings import OrchardSettings

pytestmark = pytest.mark.unit

SECRET = "s3cret-9f2c71"


def test_the_preferred_form_names_a_key_and_holds_only_the_digest_of_its_secret() -> None:
    keys = ApiKeys.parse({"crm-sync": {"sha256": secret_digest(SECRET).upper(), "scopes": ["read"]},
                          "ops": {"sha256": secret_digest("other"), "scopes": ["read", "write"]}})
    found = keys.find(SECRET)
    assert found is not None and found.name == "crm-sync" and found.scopes == {"read"}
    assert keys.find(SECRET + "x") is None and keys.find("") is None
    assert SECRET not in repr(keys) and secret_digest(SECRET) not in repr(keys).lower()


def test_a_short_form_key_is_known_by_its_position_never_by_a_piece_of_its_secret() -> None:
    keys = ApiKeys.parse({"first-secret": ["read"], SECRET: ["ingest:write", "read", "write"]})
    found = keys.find(SECRET)
    assert found is not None and found.name == "unnamed-key-2"
    assert not any(SECRET[i:i + 3] in found.name for i in range(len(SECRET) - 2))
    assert SECRET not in repr(keys)


def test_every_key_is_compared_in_constant_time_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = ApiKeys.parse({name: {"sha256": secret_digest(name + SECRET), "scopes": ["read"]}
                          for name in ("a", "b", "c")})
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(left: bytes, right: bytes) -> bool:
        compared.append((left, right))
        return real(left, right)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    found = keys.find("a" + SECRET)
    assert found is not None and found.name == "a"
    assert len(compared) == 3 and all(len(left) == len(right) == 32 for left, right in compared)


@pytest.mark.parametrize(("config", "problem"), [
    ({"ops": {"sha256": "abc", "scopes": ["read"]}}, "64 hex digits"),
    ({"ops": {"sha256": secret_digest(SECRET), "scopes": ["admin"]}}, "unknown scopes"),
    ({"ops": {"sha256": secret_digest(SECRET), "scopes": ["read"], "secret": SECRET}}, "unknown fields"),
    ({"ops": {"sha256": secret_digest(SECRET), "scopes": ["read"]}, SECRET: ["read"]}, "same secret"),
    ({"bad name!": {"sha256": secret_digest(SECRET), "scopes": ["read"]}}, "a name is"),
    ({"ops": {"sha256": secret_digest(SECRET), "scopes": "read"}}, "list of strings"),
    ("{not json", "not JSON"),
    ("[1]", "JSON object"),
])
def test_a_wrong_configuration_says_what_is_wrong(config: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ApiKeys.parse(config)


def test_settings_read_the_keys_from_the_environment_and_never_show_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHARD_API_KEYS", f'{{"ops": {{"sha256": "{secret_digest(SECRET)}", "scopes": ["read"]}},'
                                           f' "{SECRET}2": ["write"]}}')
    settings = OrchardSettings()
    assert settings.api_keys.described() == {"ops": ["read"], "unnamed-key-2": ["write"]}
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in shown and secret_digest(SECRET) not in shown


def test_no_key_exists_unless_configured_and_an_api_refuses_to_start_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ORCHARD_API_KEYS", raising=False)
    assert not OrchardSettings().api_keys
    with pytest.raises(ApiKeysMissing, match="ORCHARD_API_KEYS is not set"):
        require_keys(OrchardSettings().api_keys)
    with pytest.raises(ApiKeysMissing):
        create_app(service="t", title="t", description="t", api_keys=ApiKeys())


def test_an_app_refuses_a_route_that_skips_the_guards() -> None:
    keys = ApiKeys.parse({"ops": {"sha256": secret_digest(SECRET), "scopes": ["read"]}})
    plain = APIRouter(prefix="/v1")

    @plain.get("/things")
    async def things() -> list[str]:
        return []

    with pytest.raises(TypeError, match="api_router"):
        create_app(service="t", title="t", description="t", api_keys=keys, routers=[plain])
    guarded = api_router(prefix="/v1", tags=["t"])
    guarded.add_api_route("/things", things)
    assert create_app(service="t", title="t", description="t", api_keys=keys, routers=[guarded])


def test_a_route_knows_its_scope_whether_declared_by_alias_or_by_default() -> None:
    # The guards authenticate before the body is read only for a route whose scope they find.
    router = api_router(prefix="/v1", tags=["t"])

    @router.get("/read")
    async def read(_: ReadKey) -> None: ...

    @router.post("/write")
    async def write(who: WriteKey) -> None: ...

    @router.post("/ingest")
    async def ingest(_: str = Depends(require_scope("ingest:write"))) -> None: ...

    @router.get("/open")
    async def unauthenticated() -> None: ...

    scopes = {r.path: r.required_scope for r in router.routes if isinstance(r, ApiRoute)}
    assert scopes == {"/v1/read": "read", "/v1/write": "write", "/v1/ingest": "ingest:write", "/v1/open": None}


def test_text_that_postgres_cannot_store_is_found_wherever_it_is() -> None:
    assert bad_text("fine ✓") is None
    assert "NUL" in (bad_text("a\x00b") or "") and "surrogate" in (bad_text("\ud800") or "")
    assert find_bad_text({"a": [{"b": "ok"}, {"c": "x\x00"}]}) == (("a", "1", "c"), bad_text("\x00"))
    assert find_bad_text({"k\x00": 1}) is not None and find_bad_text({"a": ["ok", 1, None]}) is None


@pytest.mark.parametrize("body", [b'{"notes": "a\\u0000b"}', b'{"n\\u0000": 1}', b'{"notes": "\\ud800"}',
                                  b'{"notes": "\xed\xa0\x80"}'])
def test_a_json_body_with_a_nul_or_a_lone_surrogate_is_refused(body: bytes) -> None:
    with pytest.raises(ApiError) as refused:
        check_json_text(body)
    assert refused.value.status == 422 and refused.value.details[0]["loc"].startswith("body")


@pytest.mark.parametrize("body", [b'{"notes": "a\\\\u0000b"}', b'{"notes": "\\ud83d\\ude00 \xed\x95\x9c"}',
                                  b"{not json \\u0000"])
def test_an_escaped_backslash_a_surrogate_pair_hangul_or_non_json_pass_through(body: bytes) -> None:
    check_json_text(body)


def test_a_refused_configuration_does_not_echo_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHARD_API_KEYS", f'{{"{SECRET}": ["admin"]}}')
    with pytest.raises(ValueError, match="unknown scopes") as refused:
        OrchardSettings()
    assert SECRET not in str(refused.value)
