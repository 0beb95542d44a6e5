"""Each service has a README that says what it consumes and emits, and lists its endpoints and
settings as the code has them; docs/operations.md lists the shared settings. The lists are generated
(``python -m deploy.service_docs``); these tests fail while a document and the code differ."""

from __future__ import annotations

import re

import pytest
from pydantic_settings import BaseSettings

from deploy.service_docs import OPERATIONS, SERVICES, documents, fill, settings_class
from shared.settings import OrchardSettings
from tests.infra import REPO

pytestmark = pytest.mark.unit


def variables(cls: type[BaseSettings]) -> set[str]:
    """Every ORCHARD_* variable the settings class reads, nested settings included."""
    prefix = cls.model_config.get("env_prefix", "")
    found = set()
    for name, field in cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
            found |= variables(field.annotation)
        else:
            found.add(f"{prefix}{name}".upper())
    return found


def test_the_generated_sections_match_the_code() -> None:
    for path, sections in documents().items():
        text = path.read_text()
        assert fill(text, sections) == text, f"{path.relative_to(REPO)} is stale: python -m deploy.service_docs"


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_of_a_service_is_documented_with_its_default(service: str) -> None:
    readme = (REPO / "services" / service / "README.md").read_text()
    operations = OPERATIONS.read_text()
    cls = settings_class(service)
    assert len(variables(cls)) > 40
    for variable in variables(cls):
        row = re.search(rf"^\| `{variable}` \| ([^|]+) \|", readme + "\n" + operations, re.M)
        assert row, f"{variable} is not in services/{service}/README.md nor docs/operations.md"
    own = variables(cls) - variables(OrchardSettings)
    assert own and all(f"`{v}`" in readme for v in own), "a service's own settings are in its README"


@pytest.mark.parametrize("service", SERVICES)
def test_each_readme_says_what_the_service_consumes_emits_and_serves(service: str) -> None:
    readme = (REPO / "services" / service / "README.md").read_text()
    assert re.search(r"consum", readme, re.I) and "orchard.events." in readme
    assert "## Endpoints" in readme and "`GET /metrics`" in readme and "`GET /readyz`" in readme


def test_a_stale_section_is_caught() -> None:
    readme = (REPO / "services" / "health" / "README.md").read_text()
    sections = documents()[REPO / "services" / "health" / "README.md"]
    stale = readme.replace("`ORCHARD_HEALTH_RESCORE_INTERVAL_S`", "`ORCHARD_HEALTH_RESCORE_EVERY_S`")
    assert fill(stale, sections) != stale
    with pytest.raises(ValueError, match="generated:settings"):
        fill(readme.replace("<!-- generated:settings -->", ""), sections)
