"""Policy packs as a specification: what each pack says alone, what a stack decides, what a bad pack gets."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path

import pytest

from custos.errors import CustosError, Kind
from custos.policy import (
    BUILTIN_PACKS,
    RULES,
    SPECS,
    Decision,
    Policy,
    Stricter,
    YuanRange,
    load_pack,
    load_policy,
)

# Every key ARTICLES.md lists (ranges such as BJ-19..25 spelled out). A pack may cite no other.
ARTICLE_KEYS = frozenset(
    {
        *("HB-3", "HB-7", "HB-8", "HB-9", "HB-11", "HB-13", "HB-14", "HB-15", "HB-16", "HB-20"),
        *("HB-17.1", "HB-17.2", "HB-17.3", "HB-17.4", "HB-17.5", "HB-17.6"),
        *("HB-18.1", "HB-18.2", "HB-18.3", "HB-18.4", "HB-18.5", "HB-21.4", "HB-21.5", "HB-21.6"),
        *("BJ-3", "BJ-5", "BJ-6", "BJ-7", "BJ-8", "BJ-9", "BJ-11", "BJ-14", "BJ-15", "BJ-16", "BJ-17"),
        *("BJ-12.1", "BJ-12.2", "BJ-12.3", "BJ-12.4", "BJ-13.1", "BJ-13.2", "BJ-13.3", "BJ-17.3", "BJ-17.4"),
        *("BJ-19", "BJ-20", "BJ-21", "BJ-22", "BJ-23", "BJ-24", "BJ-25", "BJ-26"),
        *("CN-7", "CN-8", "CN-9", "CN-10", "CN-13", "CN-14", "CN-15", "CN-16", "CN-17"),
        *("CN-20", "CN-21", "CN-22", "CN-23", "CN-26", "CN-27", "CN-28", "CN-29", "CN-30", "CN-33"),
    }
)
KEY_FORM = re.compile(r"(CN|HB|BJ)-[1-9][0-9]*(\.[1-9][0-9]*)?")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "guide" / "policy.md"

HEADER = '[pack]\nid = "LOCAL"\ntitle = "A deployment"\nsource = "notice"\nin_force = 2024-01-01\nlevel = "local"\n'


def write_pack(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "local.toml"
    path.write_text(header + body, encoding="utf-8")
    return path


def all_names() -> set[str]:
    return {n for i in BUILTIN_PACKS for n in load_pack(i).params}


# --- each pack alone ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "in_force", "level"),
    [
        ("CN", date(2025, 4, 1), "national"),
        ("hb", date(2013, 9, 1), "provincial"),
        ("Bj", date(2007, 4, 1), "provincial"),
    ],
)
def test_each_built_in_pack_loads_by_id_in_any_case(name: str, in_force: date, level: str) -> None:
    pack = load_pack(name)
    assert pack.id == name.upper() and pack.in_force == in_force and pack.level == level
    assert pack.title and pack.source and pack.params and pack.rules


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_every_key_a_pack_cites_is_one_articles_md_lists_and_is_its_own(name: str) -> None:
    pack = load_pack(name)
    cited = [k for p in pack.params.values() for k in p.keys] + [k for ks in pack.rules.values() for k in ks]
    assert cited
    for key in cited:
        assert KEY_FORM.fullmatch(key) and key in ARTICLE_KEYS, key
        assert key.startswith(f"{name}-"), key


def test_every_article_key_is_cited_by_its_pack() -> None:
    cited = {
        k
        for i in BUILTIN_PACKS
        for k in itertools.chain(
            (k for p in load_pack(i).params.values() for k in p.keys),
            (k for ks in load_pack(i).rules.values() for k in ks),
        )
    }
    assert ARTICLE_KEYS - cited == set()


def test_every_parameter_without_a_figure_is_uncertain_and_quotes_its_text() -> None:
    for i in BUILTIN_PACKS:
        for p in load_pack(i).params.values():
            if p.value is None:
                assert p.uncertain and p.note, p.name
            if p.uncertain:
                assert '"' in p.note, f"{i} {p.name}: an uncertain figure quotes the text"


def test_hb_alone_keeps_standard_footage_15_days_and_serious_footage_two_years() -> None:
    hb = load_policy("HB")
    assert hb.ids == ("HB",)
    assert hb.retention_classes() == ("standard", "serious")
    std = hb.retention_days("standard")
    assert (std.value, std.keys, std.pack, std.uncertain) == (15, ("HB-17.6",), "HB", False)
    serious = hb.retention_days("serious")
    assert (serious.value, serious.keys, serious.pack) == (731, ("HB-17.6",), "HB")


def test_bj_alone_leaves_retention_unset_and_uncertain() -> None:
    r = load_policy(["BJ"]).retention_days("standard")
    assert r.value is None and not r.is_set and r.pack is None
    assert r.uncertain and r.keys == ("BJ-13.3",)
    assert "kept until a pack sets a period" in r.sentence
    assert "prescribed time period" in r.settings[0].param.note


def test_cn_alone_sets_the_30_day_floor_and_the_90_day_filing_for_older_systems() -> None:
    cn = load_policy("CN")
    assert cn.retention_days("standard").value == 30
    assert cn.param("filing.deadline_days").value == 30
    legacy = cn.param("filing.legacy_deadline_days")
    assert (legacy.value, legacy.keys) == (90, ("CN-14",))
    assert cn.param("authority_access.legal_basis_required").value is True


def test_bj_penalties_are_encoded_as_read_and_marked_uncertain() -> None:
    bj = load_policy("BJ")
    r = bj.param("penalty_yuan.public_road_non_government.unit")
    assert r.value == (("BJ", YuanRange(30000, None)),) and r.uncertain and r.keys == ("BJ-21",)
    duties = bj.param("penalty_yuan.duties.responsible")
    assert duties.value == (("BJ", None),) and duties.uncertain


# --- stacking ----------------------------------------------------------------------------------------


def test_cn_and_hb_standard_retention_is_the_stricter_30_days_citing_both() -> None:
    r = load_policy(["CN", "HB"]).retention_days("standard")
    assert (r.value, r.keys, r.pack, r.uncertain) == (30, ("CN-17", "HB-17.6"), "CN", False)
    assert "CN-17" in r.sentence and "HB-17.6" in r.sentence and "15" in r.sentence


def test_cn_and_hb_serious_retention_is_hubeis_two_years() -> None:
    r = load_policy(["CN", "HB"]).retention_days("serious")
    assert (r.value, r.pack) == (731, "HB")
    assert r.keys[0] == "HB-17.6" and set(r.keys) == {"HB-17.6", "CN-17"}


def test_cn_and_hb_filing_is_30_days_citing_both() -> None:
    policy = load_policy(["CN", "HB"])
    r = policy.param("filing.deadline_days")
    assert (r.value, r.keys, r.uncertain) == (30, ("CN-14", "HB-11"), False)
    assert policy.param("authority_access.min_officers").value == 2


def test_cn_and_bj_retention_is_30_days_but_uncertain_while_bj_names_no_period() -> None:
    r = load_policy(["CN", "BJ"]).retention_days("standard")
    assert (r.value, r.pack, r.keys) == (30, "CN", ("CN-17", "BJ-13.3"))
    assert r.uncertain and "without a figure" in r.sentence


def test_a_local_pack_sets_bjs_prescribed_period(tmp_path: Path) -> None:
    local = write_pack(
        tmp_path, '[retain_days.standard]\nkey = "BJ-13.3"\nvalue = 90\nnote = "District PSB notice 2019-7."\n'
    )
    r = load_policy(["BJ", local]).retention_days("standard")
    assert (r.value, r.pack, r.keys, r.uncertain) == (90, "LOCAL", ("BJ-13.3",), False)
    stacked = load_policy(["CN", "BJ", local])
    assert stacked.ids == ("CN", "BJ", "LOCAL")
    assert stacked.retention_days("standard").value == 90


def test_the_stricter_wins_in_each_direction(tmp_path: Path) -> None:
    local = write_pack(
        tmp_path,
        '[filing.deadline_days]\nkey = "CN-14"\nvalue = 10\n'
        '[authority_access.min_officers]\nkey = "HB-16"\nvalue = 1\n'
        '[filing.refile_on_change]\nkey = "CN-14"\nvalue = false\n'
        '[sites.forbidden]\nkey = "CN-8"\nvalue = ["server_room"]\n',
    )
    policy = load_policy(["CN", "HB", local])
    filing = policy.param("filing.deadline_days")
    assert (filing.value, filing.pack, filing.keys) == (10, "LOCAL", ("CN-14", "HB-11"))
    officers = policy.param("authority_access.min_officers")
    assert (officers.value, officers.pack) == (2, "HB")
    refile = policy.param("filing.refile_on_change")
    assert (refile.value, refile.pack) == (True, "CN")
    forbidden = policy.param("sites.forbidden").value
    assert isinstance(forbidden, tuple) and {"server_room", "hotel_room", "financial_data_spot"} <= set(forbidden)


def test_unions_gather_every_packs_items_and_cite_every_key() -> None:
    r = load_policy(["CN", "HB", "BJ"]).param("access.register_fields")
    assert r.keys == ("CN-16", "BJ-13.2", "BJ-17.3", "HB-17.3") and r.pack is None
    assert isinstance(r.value, tuple)
    assert {"person", "unit", "role", "time", "method", "purpose", "destination", "cameras", "time_range"} == set(
        r.value
    )
    assert r.uncertain  # BJ's list is read from a garbled sentence


def test_fines_stand_side_by_side() -> None:
    policy = load_policy(["HB", "CN"])
    r = policy.param("penalty_yuan.forbidden_site.unit")
    assert r.value == (("CN", YuanRange(10000, 20000)), ("HB", YuanRange(500, 3000)))
    assert r.pack is None and r.keys == ("CN-27", "HB-20")
    assert "10,000–20,000 yuan" in r.sentence and "500–3,000 yuan" in r.sentence
    parties = [p.name.rpartition(".")[2] for p in policy.penalties("not_filed")]
    assert parties == ["unit", "individual"]


def test_a_parameter_no_pack_sets_is_none() -> None:
    r = load_policy("CN").param("authority_access.min_officers")
    assert (r.value, r.keys, r.pack, r.uncertain, r.settings) == (None, (), None, False, ())
    assert "not set" in r.sentence


def test_keys_for_cites_the_obligations_of_the_packs_in_force() -> None:
    assert load_policy(["CN", "HB"]).keys_for("access.register") == ("CN-16", "HB-17.3")
    assert load_policy(["BJ"]).keys_for("access.register") == ("BJ-13.2", "BJ-17.3")
    assert load_policy(["CN"]).keys_for("filing.before_dismantling") == ()
    with pytest.raises(CustosError, match="access.regster") as e:
        load_policy(["CN"]).keys_for("access.regster")
    assert e.value.kind is Kind.INVALID_ARGUMENT


@pytest.mark.parametrize("n", [2, 3])
def test_the_order_of_stacking_never_changes_an_answer(n: int) -> None:
    names = sorted(all_names())
    for combo in itertools.combinations(BUILTIN_PACKS, n):
        first = load_policy(combo)
        for order in itertools.permutations(combo):
            other = load_policy(order)
            assert other.ids == first.ids
            assert [other.param(x) for x in names] == [first.param(x) for x in names]
            assert other.retention_classes() == first.retention_classes()
            assert [other.retention_days(c) for c in other.retention_classes()] == [
                first.retention_days(c) for c in first.retention_classes()
            ]
            assert [other.keys_for(r) for r in RULES] == [first.keys_for(r) for r in RULES]


def test_unknown_names_are_refused() -> None:
    policy = load_policy(["HB"])
    for call in (
        lambda: policy.param("retention.standard"),
        lambda: policy.retention_days("evidence"),
        lambda: policy.penalties("jaywalking"),
    ):
        with pytest.raises(CustosError) as e:
            call()
        assert e.value.kind is Kind.INVALID_ARGUMENT
    with pytest.raises(CustosError, match="more than once"):
        Policy([load_pack("HB"), load_pack("hb")])
    with pytest.raises(CustosError, match="at least one"):
        load_policy([])


def test_every_spec_has_a_direction_and_a_label() -> None:
    assert all(isinstance(s.stricter, Stricter) and s.label for s in SPECS.values())
    assert SPECS["retain_days.*"].stricter is Stricter.LARGER
    assert SPECS["filing.deadline_days"].stricter is Stricter.SMALLER


# --- bad packs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('[retain_days.standrd.x]\nkey = "CN-17"\nvalue = 30\n', r"parameter 'retain_days\.standrd\.x': unknown"),
        ('[filing.deadline_dayz]\nkey = "CN-14"\nvalue = 30\n', r"parameter 'filing\.deadline_dayz': unknown"),
        ("[filing.deadline_days]\nvalue = 30\n", r"parameter 'filing\.deadline_days': give exactly one of key"),
        ('[filing.deadline_days]\nkey = "CN-14"\nkeys = ["CN-14"]\nvalue = 30\n', "exactly one of key"),
        ('[filing.deadline_days]\nkey = "CN14"\nvalue = 30\n', r"'CN14' is not an article key"),
        ('[filing.deadline_days]\nkey = "cn-14"\nvalue = 30\n', r"'cn-14' is not an article key"),
        ('[filing.deadline_days]\nkey = "CN-14.2.1"\nvalue = 30\n', "is not an article key"),
        ('[filing.deadline_days]\nkey = "CN-14"\nvalue = "30"\n', "positive whole number"),
        ('[filing.deadline_days]\nkey = "CN-14"\nvalue = true\n', "positive whole number"),
        ('[filing.deadline_days]\nkey = "CN-14"\nvalue = 0\n', "positive whole number"),
        ('[filing.refile_on_change]\nkey = "CN-14"\nvalue = 1\n', "true or false"),
        ('[sites.forbidden]\nkey = "CN-8"\nvalue = "toilet"\n', "list of identifiers"),
        ('[sites.forbidden]\nkey = "CN-8"\nvalue = ["Hotel Room"]\n', "list of identifiers"),
        ('[penalty_yuan.not_filed.unit]\nkey = "CN-29"\nmin = 9\nmax = 1\n', "min 9 is above max 1"),
        ('[penalty_yuan.not_filed.unit]\nkey = "CN-29"\nvalue = 10\n', "unknown field"),
        ('[filing.deadline_days]\nkey = "CN-14"\nvalu = 30\n', "unknown field"),
        ('[filing.deadline_days]\nkey = "CN-14"\n', "no value"),
        ('[filing.deadline_days]\nkey = "CN-14"\nuncertain = true\n', "needs a note"),
        ("[filing]\ndeadline_days = 30\n", r"parameter 'filing': unknown"),
        ('[rules]\naccess.regster = ["CN-16"]\n', r"rule 'access\.regster': unknown"),
        ('[rules]\naccess.register = ["CN16"]\n', "not an article key"),
        ("[filing.deadline_days\n", "not valid TOML"),
    ],
)
def test_a_bad_pack_is_refused_naming_the_file_and_the_parameter(tmp_path: Path, body: str, match: str) -> None:
    path = write_pack(tmp_path, body)
    with pytest.raises(CustosError, match=match) as e:
        load_pack(path)
    assert e.value.kind is Kind.INVALID_ARGUMENT
    assert str(path) in e.value.message


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("", r"\[pack\] table"),
        ('[pack]\nid = "X"\ntitle = "t"\nsource = "s"\nlevel = "local"\n', "missing in_force"),
        ('[pack]\nid = "X"\ntitle = "t"\nsource = "s"\nin_force = "2024-01-01"\nlevel = "local"\n', "date"),
        ('[pack]\nid = "x"\ntitle = "t"\nsource = "s"\nin_force = 2024-01-01\nlevel = "local"\n', "upper-case id"),
        ('[pack]\nid = "X"\ntitle = "t"\nsource = "s"\nin_force = 2024-01-01\nlevel = "city"\n', "level"),
        ('[pack]\nid = "X"\ntitle = "t"\nsource = "s"\nin_force = 2024-01-01\nlevel = "local"\nv = 1\n', "unknown"),
    ],
)
def test_a_bad_header_is_refused(tmp_path: Path, header: str, match: str) -> None:
    with pytest.raises(CustosError, match=match) as e:
        load_pack(write_pack(tmp_path, "", header=header))
    assert e.value.kind is Kind.INVALID_ARGUMENT


def test_an_unknown_built_in_name_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CustosError, match="unknown policy pack 'SH'.*CN, HB, BJ") as e:
        load_pack("SH")
    assert e.value.kind is Kind.INVALID_ARGUMENT
    with pytest.raises(CustosError, match="does not exist") as e:
        load_pack(tmp_path / "nowhere.toml")
    assert e.value.kind is Kind.NOT_FOUND


# --- decisions ---------------------------------------------------------------------------------------


def test_a_decision_is_truthy_when_allowed_and_carries_its_keys() -> None:
    ok = Decision.allow("retention expired", ["CN-17", "HB-17.6"])
    no = Decision.refuse("within retention", ("HB-17.6",), uncertain=True)
    assert ok and not no
    assert ok.keys == ("CN-17", "HB-17.6") and not ok.uncertain
    assert no.as_dict() == {"allowed": False, "keys": ["HB-17.6"], "reason": "within retention", "uncertain": True}
    with pytest.raises(CustosError, match="article keys"):
        Decision.refuse("bad", ["hb17"])
    with pytest.raises(CustosError, match="reason"):
        Decision.allow(" ")


# --- docs --------------------------------------------------------------------------------------------


def test_the_guide_lists_every_uncertain_figure() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for i in BUILTIN_PACKS:
        for p in load_pack(i).params.values():
            if p.uncertain:
                assert re.search(rf"\| {i} \| `{re.escape(p.name)}` \|", text), f"{i} {p.name} missing from {DOCS}"
