"""`require:`, `domains:` and every bad `policies:` input, each with its located error."""

from __future__ import annotations

from pathlib import Path

from mesh import CRM_YML, MARKETING_YML, POLICIES, check, codes, mesh

SQL = "select id from {{ input('customers') }}"
COLUMNS = ["{name: id, type: bigint}"]


def _run(tmp_path: Path, *, policies: str = POLICIES, crm: str = CRM_YML,
         marketing: str = MARKETING_YML) -> tuple[int, list[dict[str, object]]]:
    return check(mesh(tmp_path, SQL, COLUMNS, policies=policies, crm_yml=crm,
                      marketing_yml=marketing))


def test_a_workspace_that_follows_its_policies_is_clean(tmp_path: Path) -> None:
    assert _run(tmp_path) == (0, [])


def test_require_owner_and_description(tmp_path: Path) -> None:
    crm = CRM_YML.replace("owner: crm@example.com\n", "").replace("description: Customers.\n", "")
    status, found = _run(tmp_path, crm=crm)
    assert status == 1 and codes(found) == ["DP805", "DP805"]
    assert {str(d["message"]) for d in found} == {
        "product `crm` has no owner, which `policies: require:` asks of every product",
        "product `crm` has no description, which `policies: require:` asks of every product"}
    assert str(found[0]["path"]).endswith("crm/product.yml")


def test_require_contracts(tmp_path: Path) -> None:
    marketing = MARKETING_YML.replace("    columns:\nCOLUMNS", "")
    status, found = check(mesh(tmp_path, SQL, [], crm_yml=CRM_YML, marketing_yml=marketing))
    assert status == 1 and "DP806" in codes(found)
    hit = next(d for d in found if d["code"] == "DP806")
    assert "port `marketing.contacts` has no contract" in str(hit["message"])
    assert hit["line"] == 11  # `- name: contacts`


def test_without_require_nothing_is_asked(tmp_path: Path) -> None:
    crm = CRM_YML.replace("owner: crm@example.com\n", "")
    status, found = _run(tmp_path, crm=crm,
                         policies=POLICIES.replace("  require: [owner, description, contracts]\n",
                                                   ""))
    assert status == 0 and found == []


def test_a_domain_not_allowed_is_an_error_at_the_input(tmp_path: Path) -> None:
    status, found = _run(tmp_path, policies=POLICIES.replace("growth: [sales]",
                                                             "growth: [growth]"))
    assert status == 1 and codes(found) == ["DP807"]
    assert str(found[0]["message"]) == (
        "input `customers` of `marketing` (domain `growth`) reads `crm.customers` of domain "
        "`sales`, which `policies: domains:` does not allow")
    assert str(found[0]["path"]).endswith("marketing/product.yml")
    assert found[0]["line"] == 8  # `product: crm`


def test_a_domain_without_a_rule_reads_anything(tmp_path: Path) -> None:
    status, found = _run(tmp_path, policies=POLICIES.replace("growth: [sales]", "sales: [sales]"))
    assert status == 0 and found == []


def _dpsql_yml_error(tmp_path: Path, policies: str, code: str, line: int) -> str:
    status, found = _run(tmp_path, policies=policies)
    assert status == 1 and code in codes(found), found
    hit = next(d for d in found if d["code"] == code)
    assert str(hit["path"]).endswith("dpsql.yml") and hit["line"] == line
    return f"{hit['message']} / {hit['hint']}"


def test_unknown_rule_in_require(tmp_path: Path) -> None:
    text = _dpsql_yml_error(tmp_path, POLICIES.replace("contracts]", "contract]"), "DP801", 5)
    assert "unknown rule `contract` in `require`" in text and "did you mean `contracts`?" in text


def test_unknown_policy_key(tmp_path: Path) -> None:
    text = _dpsql_yml_error(tmp_path, POLICIES + "  domain: {}\n", "DP801", 11)
    assert "unknown policy `domain`" in text and "did you mean `domains`?" in text


def test_unknown_key_in_a_classification(tmp_path: Path) -> None:
    text = _dpsql_yml_error(tmp_path, POLICIES.replace("masked_by:", "masked:"), "DP801", 10)
    assert "unknown key `masked` in classification `pii`" in text


def test_a_domain_no_product_has(tmp_path: Path) -> None:
    text = _dpsql_yml_error(tmp_path, POLICIES.replace("growth: [sales]", "growth: [sale]"),
                            "DP802", 7)
    assert "names the domain `sale`, which no product has" in text and "`sales`" in text
    text = _dpsql_yml_error(tmp_path / "b", POLICIES.replace("growth: [sales]", "grwth: [sales]"),
                            "DP802", 7)
    assert "the domain `grwth`" in text


def test_a_masked_by_that_is_not_a_function(tmp_path: Path) -> None:
    text = _dpsql_yml_error(tmp_path, POLICIES.replace("sha256, md5", "sha265, md5"), "DP804", 10)
    assert "`masked_by: sha265` of classification `pii` is not a function" in text
    assert "did you mean `sha256`?" in text


def test_a_classification_not_declared(tmp_path: Path) -> None:
    crm = CRM_YML.replace("{name: email, classification: pii}",
                          "{name: email, classification: [pii, secret]}")
    status, found = _run(tmp_path, crm=crm)
    assert status == 1 and codes(found) == ["DP803"]
    assert str(found[0]["message"]) == (
        "column `email` of input `raw_customers` of `crm` has `classification: secret`, which "
        "`policies: classifications:` in dpsql.yml does not declare")
    assert str(found[0]["path"]).endswith("crm/product.yml") and found[0]["line"] == 10


def test_labels_without_any_policies(tmp_path: Path) -> None:
    status, found = _run(tmp_path, policies="")
    assert status == 1 and codes(found) == ["DP803", "DP803"]


def test_policies_must_be_a_mapping(tmp_path: Path) -> None:
    status, found = _run(tmp_path, policies="policies: [require]\n")
    assert status == 1 and "DP003" in codes(found)


def test_labels_are_listed_by_ls_columns(tmp_path: Path) -> None:
    from conftest import run_cli
    root = mesh(tmp_path, SQL, COLUMNS)
    result = run_cli("ls", "-p", str(root), "--columns")
    assert result.exit_code == 0
    assert "email varchar [pii]" in result.output
