"""Scenario files: the packaged default, salvo expansion, and a dozen kinds of bad file."""

import json
import subprocess
import sys

import numpy as np
import pytest

from counterram.scenario import ScenarioError, expand_rounds, load_scenario, parse_scenario
from counterram.truth import fly_truth, zone_of

GOOD = """\
name: test
origin: {lat: 33.3, lon: 44.4, alt_m: 40}
ground_alt_m: 36
zones:
  - id: a
    defended: true
    polygon: [[33.30, 44.39], [33.31, 44.39], [33.31, 44.40]]
threats:
  - id: r1
    munition: rocket-107mm
    launch: {lat: 33.26, lon: 44.45}
    aim: {lat: 33.3, lon: 44.4}
    salvo: {rounds: 3, interval_s: 1.5, aim_sigma_m: 50}
  - id: m1
    munition: mortar-81mm
    launch: {lat: 33.28, lon: 44.42}
    azimuth_deg: 300
    elevation_deg: 60
traffic:
  - id: h1
    kind: helicopter
    waypoints:
      - {lat: 33.29, lon: 44.38, alt_m: 200, speed_mps: 60}
      - {lat: 33.31, lon: 44.41, alt_m: 200, speed_mps: 60}
"""


def bad(text: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "scenarios/x.yaml")
    return str(exc.value)


def test_good_file_loads_and_salvos_expand():
    scn = parse_scenario(GOOD)
    rounds = expand_rounds(scn)
    assert [r.id for r in rounds] == ["r1.1", "r1.2", "r1.3", "m1"]
    assert [r.launch_time_s for r in rounds] == [0.0, 1.5, 3.0, 0.0]
    aims = np.array([r.aim_enu_m for r in rounds[:3]])
    assert np.all(np.std(aims[:, :2], axis=0) > 1.0)  # scattered
    # seeded: the same scenario expands the same way every time
    assert [r.aim_enu_m for r in expand_rounds(scn)] == [r.aim_enu_m for r in rounds]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # 1. unknown munition, with the known ones listed
        (
            ("munition: mortar-81mm", "munition: rocket-170mm"),
            "scenarios/x.yaml:15: threats[1].munition: unknown munition 'rocket-170mm'; known: mortar-60mm,",
        ),
        # 2. latitude out of range
        (
            ("launch: {lat: 33.28,", "launch: {lat: 123,"),
            "scenarios/x.yaml:16: threats[1].launch.lat: expected a value <= 90.0, got 123",
        ),
        # 3. wrong type: text where a number belongs
        (
            ("azimuth_deg: 300", "azimuth_deg: north"),
            "scenarios/x.yaml:17: threats[1].azimuth_deg: expected a number, got 'north'",
        ),
        # 4. unknown key, with the allowed keys listed
        (
            ("    elevation_deg: 60", "    elevation_deg: 60\n    colour: red"),
            "scenarios/x.yaml:19: threats[1].colour: unknown key 'colour'; expected one of: id, munition,",
        ),
        # 5. polygon with two points
        (
            (
                "polygon: [[33.30, 44.39], [33.31, 44.39], [33.31, 44.40]]",
                "polygon: [[33.30, 44.39], [33.31, 44.39]]",
            ),
            "scenarios/x.yaml:7: zones[0].polygon: a polygon needs at least 3 [lat, lon] points, got 2",
        ),
        # 6. self-intersecting polygon
        (
            (
                "polygon: [[33.30, 44.39], [33.31, 44.39], [33.31, 44.40]]",
                "polygon: [[33.30, 44.39], [33.31, 44.40], [33.31, 44.39], [33.30, 44.40]]",
            ),
            "scenarios/x.yaml:7: zones[0].polygon: polygon is not simple: Self-intersection",
        ),
        # 7. missing required field
        (("ground_alt_m: 36\n", ""), "scenarios/x.yaml:1: ground_alt_m: missing required field"),
        # 8. neither aim nor angles
        (
            ("    azimuth_deg: 300\n    elevation_deg: 60\n", ""),
            "scenarios/x.yaml:14: threats[1]: needs an aim point (aim: {lat, lon}) or both azimuth_deg and elevation_deg",
        ),
        # 9. a boolean that is not one
        (
            ("defended: true", "defended: maybe"),
            "scenarios/x.yaml:6: zones[0].defended: expected true or false, got 'maybe'",
        ),
        # 10. a negative salvo size
        (
            ("rounds: 3", "rounds: -3"),
            "scenarios/x.yaml:13: threats[0].salvo.rounds: expected a value >= 1, got -3",
        ),
        # 11. an unknown traffic kind
        (
            ("kind: helicopter", "kind: balloon"),
            "scenarios/x.yaml:21: traffic[0].kind: expected one of 'aircraft', 'helicopter' or 'bird', got 'balloon'",
        ),
        # 12. a list where a mapping belongs
        (
            ("origin: {lat: 33.3, lon: 44.4, alt_m: 40}", "origin: [33.3, 44.4]"),
            "scenarios/x.yaml:2: origin: expected a mapping (key: value), got [33.3, 44.4]",
        ),
        # 13. duplicate ids
        (
            ("  - id: m1", "  - id: r1"),
            "scenarios/x.yaml:9: threats: duplicate id 'r1' (threats[0] and threats[1])",
        ),
        # 14. one waypoint only
        (
            ("      - {lat: 33.31, lon: 44.41, alt_m: 200, speed_mps: 60}\n", ""),
            "scenarios/x.yaml:23: traffic[0].waypoints: expected at least 2 items, got 1",
        ),
    ],
)
def test_bad_files_name_file_line_field_and_expectation(edit, expected):
    old, new = edit
    assert old in GOOD
    msg = bad(GOOD.replace(old, new, 1))
    assert expected in msg, msg


def test_empty_file():
    assert bad("") == "scenarios/x.yaml:1: the file is empty; expected a scenario mapping (name, origin, ...)"
    assert "the file is empty" in bad("# only a comment\n")


def test_not_yaml_at_all():
    msg = bad("name: [unclosed\norigin: {lat: 1\n")
    assert msg.startswith("scenarios/x.yaml:") and "not valid YAML" in msg


def test_top_level_not_a_mapping():
    assert (
        bad("- a\n- b\n") == "scenarios/x.yaml:1: expected a scenario mapping (name, origin, ...), got a list"
    )


def test_missing_file_names_the_packaged_scenarios(tmp_path):
    with pytest.raises(ScenarioError, match="no such file.*baghdad-green-zone"):
        load_scenario(tmp_path / "nope.yaml")


def test_binary_file_is_refused_with_its_name(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ScenarioError, match=r"x.yaml:1: not a text file"):
        load_scenario(p)


def test_every_error_is_reported_at_once():
    text = GOOD.replace("munition: mortar-81mm", "munition: nope").replace(
        "azimuth_deg: 300", "azimuth_deg: x"
    )
    msg = bad(text)
    assert "threats[1].munition" in msg and "threats[1].azimuth_deg" in msg


def test_default_scenario_tells_the_founding_case():
    scn = load_scenario()
    assert scn.name == "baghdad-green-zone"
    assert abs(scn.origin.lat - 33.299) < 0.005 and abs(scn.origin.lon - 44.396) < 0.005
    ids = {z.id for z in scn.zones}
    assert "embassy" in ids and "dora" in ids
    assert sum(1 for z in scn.zones if z.id not in ("embassy", "dora", "tigris-farmland", "zawra-park")) >= 8
    assert len(scn.sensors) >= 1 and len(scn.effectors) >= 1
    rounds = expand_rounds(scn)
    assert len(rounds) == 8 and all(r.munition == "rocket-107mm" for r in rounds)
    assert {t.kind for t in scn.traffic} == {"helicopter", "aircraft"}
    # Zafaraniya is south-east of the embassy
    first = np.array(rounds[0].launch_enu_m)
    assert first[0] > 3000 and first[1] < -2000


def test_default_scenario_rockets_land_near_their_aim_points():
    scn = load_scenario()
    truth = fly_truth(scn)
    for i, r in enumerate(truth.rounds):
        assert np.hypot(*(truth.end_enu_m[i, :2] - np.array(r.aim_enu_m[:2]))) < 1.0
    zones = zone_of(scn, truth.end_enu_m[: truth.n_threats])
    assert sum(z == "embassy" for z in zones) >= 1


def test_schema_command_prints_json_schema():
    out = subprocess.run(
        [sys.executable, "-m", "counterram", "schema"], capture_output=True, text=True, check=True
    )
    schema = json.loads(out.stdout)
    assert schema["title"] == "Scenario"
    assert "threats" in schema["properties"] and schema["additionalProperties"] is False


def test_run_reports_a_bad_file_and_exits_nonzero(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(GOOD.replace("munition: mortar-81mm", "munition: rocket-170mm"))
    out = subprocess.run(
        [sys.executable, "-m", "counterram", "run", str(p), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert f"{p}:15: threats[1].munition: unknown munition 'rocket-170mm'" in out.stderr
