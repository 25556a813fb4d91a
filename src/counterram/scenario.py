"""Scenario files: pydantic models of a site, its zones, sensors, effectors, threats and traffic.

A scenario is YAML. :func:`load_scenario` reads it and reports every problem as
``FILE:LINE: field.path: what is wrong (what was expected)``; unknown keys are errors.
Angles are degrees and positions WGS-84 latitude/longitude with heights in metres above the
ellipsoid at this boundary; everything inside counterram is SI in the site's ENU frame.
"""

from __future__ import annotations

import types
import typing
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import shapely
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .geo import Site
from .physics.munitions import CATALOG
from .sensing.radar import RadarSpec, SensorsFile

DEFAULT_SCENARIO = "baghdad-green-zone"

Lat = Annotated[float, Field(ge=-90.0, le=90.0, description="latitude, degrees north (WGS-84)")]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, description="longitude, degrees east (WGS-84)")]
AltM = Annotated[float, Field(ge=-500.0, le=50_000.0, description="height above the WGS-84 ellipsoid, m")]


class Strict(BaseModel):
    """Base for scenario records: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(Strict):
    lat: Lat
    lon: Lon
    alt_m: AltM | None = Field(None, description="height above the ellipsoid (m); default: ground")


class Origin(Strict):
    """The site origin: the ENU frame's (0, 0, 0)."""

    lat: Lat
    lon: Lon
    alt_m: AltM = 0.0


class WindLayer(Strict):
    height_m: float = Field(ge=0.0, description="height above ground, m")
    east_mps: float = Field(0.0, description="wind toward east, m/s")
    north_mps: float = Field(0.0, description="wind toward north, m/s")


class WindSpec(Strict):
    """Either a constant wind (east_mps, north_mps) or a profile by height; default calm."""

    east_mps: float | None = Field(None, description="constant wind toward east, m/s")
    north_mps: float | None = Field(None, description="constant wind toward north, m/s")
    profile: list[WindLayer] | None = Field(None, description="wind by height above ground")

    @model_validator(mode="after")
    def _one_form(self):
        if self.profile is not None and (self.east_mps is not None or self.north_mps is not None):
            raise ValueError("give either east_mps/north_mps (constant) or profile, not both")
        if self.profile is not None:
            if not self.profile:
                raise ValueError("profile needs at least one layer")
            h = [w.height_m for w in self.profile]
            if any(b <= a for a, b in zip(h, h[1:], strict=False)):
                raise ValueError(f"profile heights must increase, got {h}")
        return self


class Zone(Strict):
    id: str = Field(min_length=1)
    name: str = ""
    polygon: list[tuple[Lat, Lon]] = Field(description="[lat, lon] vertices (not closed)")
    defended: bool = Field(False, description="an effector defends this zone")
    value: float = Field(1.0, gt=0.0, description="relative importance for engagement priority")
    siren: str | None = Field(None, description="siren id; default siren-<id>")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, pts):
        if len(pts) < 3:
            raise ValueError(f"a polygon needs at least 3 [lat, lon] points, got {len(pts)}")
        if pts[0] == pts[-1]:
            pts = pts[:-1]
            if len(pts) < 3:
                raise ValueError("a polygon needs at least 3 distinct points")
        poly = shapely.Polygon([(lon, lat) for lat, lon in pts])
        if not poly.is_valid:
            raise ValueError(f"polygon is not simple: {shapely.is_valid_reason(poly)}")
        if poly.area == 0.0:
            raise ValueError("polygon has no area (its points are collinear or repeated)")
        return pts

    @property
    def siren_id(self) -> str:
        return self.siren or f"siren-{self.id}"


class _EffectorBase(Strict):
    """What every effector has: an id, a position and an engagement envelope.

    The envelope is the set of target positions it may engage: slant range in
    [min_range_m, max_range_m] and elevation above the effector's local horizontal of at least
    min_elevation_deg. Ammunition is finite: a full load, what is loaded at the start
    (default: full), and a number of spare loads, each taking ``reload_s`` to load once the
    current one is spent.
    """

    id: str = Field(min_length=1)
    kind: Literal["gun", "launcher"]
    lat: Lat
    lon: Lon
    alt_m: AltM = Field(0.0, description="height of the mount above the WGS-84 ellipsoid, m")

    @field_validator("max_range_m", check_fields=False)
    @classmethod
    def _range_order(cls, v, info):
        lo = info.data.get("min_range_m")
        if lo is not None and lo >= v:
            raise ValueError(f"must be greater than min_range_m ({lo}), got {v}")
        return v

    @field_validator("rounds_loaded", "interceptors_loaded", check_fields=False)
    @classmethod
    def _loaded(cls, v, info):
        full = info.data.get("magazine_rounds", info.data.get("interceptors_per_launcher"))
        if v is not None and full is not None and v > full:
            raise ValueError(f"{v} loaded but a full load holds {full}")
        return v


class GunSpec(_EffectorBase):
    """An intercept gun, by default the US C-RAM Land-based Phalanx Weapon System (Centurion).

    Public anchors (Wikipedia "Phalanx CIWS" and "Counter-RAM"): 20 mm M61A1 Gatling gun firing
    M940 MPLD-T self-destructing rounds at about 1,100 m/s, 4,500 rounds a minute, a 1,550-round
    magazine, engagements out to about 1.5 km with a defended bubble of about 600 m radius; over
    375 intercepts reported by 2022. Everything else is marked as an assumption.

    Models (engage.py): the round slows as v(s) = v0 exp(-s / L) (constant-Cd drag,
    L = 2 m / (rho Cd A)), so its time of flight to range s is t(s) = L / v0 (exp(s / L) - 1);
    the kill probability of one burst at range r is pk(r) = pk_max exp(-ln 2 (r / r_half)^2).
    """

    kind: Literal["gun"]
    calibre_mm: float = Field(20.0, gt=0.0, description="public: M61A1 20 mm (informative only)")
    min_range_m: float = Field(
        200.0, ge=0.0, description="assumption: fuze arming and the fire-control radar's minimum range"
    )
    max_range_m: float = Field(
        1500.0, gt=0.0, description="public: Phalanx effective range about 1.5 km (Wikipedia 'Phalanx CIWS')"
    )
    min_elevation_deg: float = Field(
        3.0, ge=-10.0, lt=90.0, description="assumption: lowest elevation the gun fires at over the site"
    )
    muzzle_speed_mps: float = Field(
        1100.0, gt=0.0, description="public: M940 MPLD-T about 1,100 m/s (Wikipedia 'Phalanx CIWS')"
    )
    velocity_decay_length_m: float = Field(
        1850.0,
        gt=0.0,
        description="assumption: L = 2 m / (rho Cd A) with the public 100 g projectile of 20 mm calibre, "
        "rho = 1.225 kg/m^3 and Cd = 0.28 (assumed); v(s) = v0 exp(-s/L)",
    )
    slew_rate_dps: float = Field(
        115.0, gt=0.0, description="assumption: Phalanx-class mount, about 115 deg/s"
    )
    settle_s: float = Field(0.5, ge=0.0, description="assumption: settling after a slew, s")
    rate_of_fire_rpm: float = Field(
        4500.0, gt=0.0, description="public: 4,500 rounds a minute (Phalanx Block 1B, C-RAM)"
    )
    burst_s: float = Field(2.0, gt=0.0, description="assumption: one burst lasts 2 s (150 rounds)")
    magazine_rounds: int = Field(1550, ge=1, description="public: 1,550-round magazine (Phalanx Block 1B)")
    rounds_loaded: int | None = Field(None, ge=0, description="rounds at the start; default a full magazine")
    reload_s: float = Field(600.0, gt=0.0, description="assumption: about 10 minutes to reload the magazine")
    spare_loads: int = Field(4, ge=0, le=1000, description="assumption: four spare magazines on site")
    pk_max: float = Field(
        0.8, ge=0.0, le=1.0, description="assumption: kill probability of one burst at short range"
    )
    pk_half_range_m: float = Field(
        1000.0,
        gt=0.0,
        description="assumption: range at which pk per burst falls to half of pk_max "
        "(pk = 0.62 at the public 600 m defended bubble, 0.17 at 1.5 km)",
    )

    @model_validator(mode="after")
    def _burst(self):
        if self.rounds_per_burst < 1:
            raise ValueError(
                f"a burst of {self.burst_s} s at {self.rate_of_fire_rpm} rounds/min fires no round"
            )
        return self

    @property
    def rounds_per_burst(self) -> int:
        """Rounds fired in one burst: rate of fire x burst length."""
        return int(round(self.rate_of_fire_rpm / 60.0 * self.burst_s))

    @property
    def capacity(self) -> int:
        return self.magazine_rounds

    @property
    def loaded(self) -> int:
        return self.magazine_rounds if self.rounds_loaded is None else self.rounds_loaded


class LauncherSpec(_EffectorBase):
    """An interceptor launcher, by default an Iron Dome (Tamir) launcher.

    Public anchors (Wikipedia "Iron Dome", Rafael): engages rockets at 4 to 70 km, only those
    predicted to hit protected areas, usually two interceptors per rocket, about 90 % of engaged
    rockets destroyed, 20 interceptors per launcher. The per-interceptor kill probability 0.68
    is derived from the 90 % for two independent interceptors: 1 - (1 - 0.68)^2 = 0.90.

    Models (engage.py): time of flight to an intercept at range r is
    t = launch_delay_s + r / interceptor_speed_mps; ``doctrine`` interceptors are fired at each
    threat, which is destroyed with probability 1 - (1 - pk)^n.
    """

    kind: Literal["launcher"]
    min_range_m: float = Field(4000.0, ge=0.0, description="public: Iron Dome minimum range 4 km")
    max_range_m: float = Field(70000.0, gt=0.0, description="public: Iron Dome maximum range 70 km")
    min_elevation_deg: float = Field(
        0.0, ge=-10.0, lt=90.0, description="assumption: intercepts above the launcher's horizon"
    )
    launch_delay_s: float = Field(
        3.0, ge=0.0, description="assumption: from the decision to fire to the interceptor leaving, s"
    )
    interceptor_speed_mps: float = Field(
        700.0,
        gt=0.0,
        description="assumption: average speed to the intercept point (Tamir peak about Mach 2.2)",
    )
    pk_per_interceptor: float = Field(
        0.68,
        ge=0.0,
        le=1.0,
        description="derived from the public ~90 % with two interceptors: 1 - (1 - 0.68)^2 = 0.90",
    )
    interceptors_per_launcher: int = Field(20, ge=1, description="public: 20 Tamir interceptors per launcher")
    interceptors_loaded: int | None = Field(
        None, ge=0, description="interceptors at the start; default a full launcher"
    )
    doctrine: Literal[1, 2] = Field(2, description="public: usually two interceptors per threat")
    launch_interval_s: float = Field(
        1.0, gt=0.0, description="assumption: time between two launches from the same launcher, s"
    )
    reload_s: float = Field(600.0, gt=0.0, description="assumption: about 10 minutes to reload a launcher")
    spare_loads: int = Field(1, ge=0, le=1000, description="assumption: one reload of 20 interceptors")

    @property
    def capacity(self) -> int:
        return self.interceptors_per_launcher

    @property
    def loaded(self) -> int:
        return (
            self.interceptors_per_launcher if self.interceptors_loaded is None else self.interceptors_loaded
        )


Effector = Annotated[GunSpec | LauncherSpec, Field(discriminator="kind")]
"""An effector: a gun (``kind: gun``) or an interceptor launcher (``kind: launcher``)."""


class EngageSpec(Strict):
    """Scenario-level engagement parameters (the optional ``engage:`` block)."""

    threshold: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="assumption: a ballistic track is a candidate when its probability of hitting a "
        "defended zone reaches this (below the 0.2 warning threshold: a burst costs ammunition, a siren "
        "sends a whole sector to cover)",
    )
    assess_s: float = Field(
        1.0, ge=0.0, description="assumption: time after an intercept before its result is assessed, s"
    )
    commit_s: float = Field(
        1.0,
        ge=0.0,
        description="a planned shot is committed when its fire time falls within this of now "
        "(about one update interval), s",
    )
    urgency_s: float = Field(
        10.0,
        gt=0.0,
        description="priority: a threat t seconds from impact weighs 1 + urgency_s / (urgency_s + t) times "
        "its value-weighted threat probability x kill probability",
    )
    plan_slots: int = Field(
        3, ge=1, le=20, description="engagements planned ahead per effector at each update"
    )


class RespondSpec(Strict):
    """Counter-battery parameters (the optional ``respond:`` block)."""

    group_distance_m: float = Field(
        500.0, gt=0.0, description="assumption: launches this close together are one firing site, m"
    )
    group_time_s: float = Field(120.0, ge=0.0, description="assumption: ... and this close in time, s")
    move_m: float = Field(
        25.0, ge=0.0, description="a cue is re-issued when its position moves more than this, m"
    )


class Salvo(Strict):
    rounds: int = Field(ge=1, le=10_000)
    interval_s: float = Field(0.0, ge=0.0, description="time between rounds, s")
    aim_sigma_m: float = Field(
        0.0, ge=0.0, description="1-sigma scatter of each round's aim point per axis, m"
    )
    angle_sigma_deg: float = Field(0.0, ge=0.0, description="1-sigma scatter of azimuth and elevation, deg")
    launch_sigma_m: float = Field(0.0, ge=0.0, description="1-sigma scatter of launch points per axis, m")


class Threat(Strict):
    """A round (or salvo): munition, launch point and time, and either an aim point or angles."""

    id: str = Field(min_length=1)
    munition: str
    launch: Point
    launch_time_s: float = Field(0.0, ge=0.0)
    aim: Point | None = None
    azimuth_deg: float | None = Field(None, ge=0.0, lt=360.0, description="clockwise from north")
    elevation_deg: float | None = Field(None, gt=0.0, lt=90.0)
    trajectory: Literal["low", "high"] = "low"
    salvo: Salvo | None = None

    @field_validator("munition")
    @classmethod
    def _known(cls, name):
        if name not in CATALOG:
            raise ValueError(f"unknown munition {name!r}; known: {', '.join(CATALOG)}")
        return name

    @model_validator(mode="after")
    def _aim_or_angles(self):
        angles = self.azimuth_deg is not None or self.elevation_deg is not None
        if self.aim is not None and angles:
            raise ValueError("give either aim or azimuth_deg + elevation_deg, not both")
        if self.aim is None and (self.azimuth_deg is None or self.elevation_deg is None):
            raise ValueError("needs an aim point (aim: {lat, lon}) or both azimuth_deg and elevation_deg")
        if self.salvo is not None:
            if self.salvo.aim_sigma_m and self.aim is None:
                raise ValueError("salvo.aim_sigma_m needs an aim point; use angle_sigma_deg with angles")
            if self.salvo.angle_sigma_deg and self.aim is not None:
                raise ValueError(
                    "salvo.angle_sigma_deg applies to azimuth/elevation threats; use aim_sigma_m"
                )
        return self


class Waypoint(Strict):
    lat: Lat
    lon: Lon
    alt_m: AltM
    speed_mps: float = Field(gt=0.0, le=400.0, description="speed flown toward the next waypoint, m/s")


class Traffic(Strict):
    """Non-threat air traffic flying straight legs between waypoints."""

    id: str = Field(min_length=1)
    kind: Literal["aircraft", "helicopter", "bird"]
    start_time_s: float = Field(0.0, ge=0.0)
    rcs_m2: float | None = Field(None, gt=0.0, description="radar cross-section, m^2 (default by kind)")
    waypoints: list[Waypoint] = Field(min_length=2)

    @field_validator("waypoints")
    @classmethod
    def _legs(cls, wps):
        for i in range(1, len(wps)):
            a, b = wps[i - 1], wps[i]
            if (a.lat, a.lon, a.alt_m) == (b.lat, b.lon, b.alt_m):
                raise ValueError(f"waypoints {i - 1} and {i} are the same point; a leg needs length")
        return wps


class Scenario(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(0, description="seed for salvo scatter and sensor noise")
    duration_s: float = Field(300.0, gt=0.0, le=86_400.0)
    origin: Origin
    ground_alt_m: float = Field(description="height of the (flat) ground above the ellipsoid, m")
    wind: WindSpec = Field(default_factory=WindSpec)
    zones: list[Zone] = Field(default_factory=list)
    sensors: list[RadarSpec] = Field(default_factory=list)
    effectors: list[Effector] = Field(default_factory=list)
    engage: EngageSpec = Field(default_factory=EngageSpec)
    respond: RespondSpec = Field(default_factory=RespondSpec)
    threats: list[Threat] = Field(default_factory=list)
    traffic: list[Traffic] = Field(default_factory=list)

    @field_validator("zones", "sensors", "effectors", "threats", "traffic")
    @classmethod
    def _unique_ids(cls, items, info):
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in seen:
                name = info.field_name
                raise ValueError(f"duplicate id {item.id!r} ({name}[{seen[item.id]}] and {name}[{i}])")
            seen[item.id] = i
        return items

    @model_validator(mode="after")
    def _launch_heights(self):
        for t in self.threats:
            if t.launch.alt_m is not None and t.launch.alt_m < self.ground_alt_m - 1e-6:
                raise ValueError(
                    f"threat {t.id!r} launches at {t.launch.alt_m} m, "
                    f"below the ground ({self.ground_alt_m} m)"
                )
        return self

    @cached_property
    def site(self) -> Site:
        return Site(self.origin.lat, self.origin.lon, self.origin.alt_m)


# --------------------------------------------------------------------------------------------
# Loading with file:line errors
# --------------------------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that cannot be used; ``str()`` lists every problem as file:line: msg."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _loc_str(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _node_at(root, loc):
    """The YAML node for a pydantic error location, and whether the last key was found."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if nxt is None:
                key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
                return (key or node), False
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node, False
    return node, True


def _key_node(root, loc):
    """The key node of the last element of ``loc`` (for unknown keys)."""
    parent, _ = _node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for k, _v in parent.value:
            if getattr(k, "value", None) == loc[-1]:
                return k
    return parent


def _unwrap(tp):
    """Strip Optional/Annotated/list wrappers off a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp


def _union_members(tp) -> dict | None:
    """{tag: model} of a discriminated union annotation (``Annotated[A | B, Field(discriminator=...)]``)."""
    if typing.get_origin(tp) is not Annotated:
        return None
    inner, *meta = typing.get_args(tp)
    disc = next((m.discriminator for m in meta if isinstance(getattr(m, "discriminator", None), str)), None)
    if disc is None:
        return None
    out = {}
    for member in typing.get_args(inner):
        for tag in typing.get_args(member.model_fields[disc].annotation):
            out[tag] = member
    return out


def _walk(loc, root_model) -> tuple[tuple, type[BaseModel] | None]:
    """Follow a pydantic error location through the models: the location without the tags that
    pydantic inserts for discriminated unions (``effectors.0.gun.max_range_m`` ->
    ``effectors.0.max_range_m``), and the model class that holds the last field."""
    clean: list = []
    model: Any = root_model
    members: dict | None = None
    for part in loc:
        if isinstance(part, int):
            clean.append(part)
            continue
        if members is not None and part in members:
            model, members = members[part], None
            continue
        members = None
        clean.append(part)
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            model = None
            continue
        tp = model.model_fields[part].annotation
        if typing.get_origin(_unwrap(tp)) is list:
            tp = typing.get_args(_unwrap(tp))[0]
        members = _union_members(tp)
        model = None if members is not None else _unwrap(tp)
    ok = isinstance(model, type) and issubclass(model, BaseModel)
    return tuple(clean), (model if ok else None)


def _model_at(loc, root_model) -> type[BaseModel] | None:
    """The pydantic model class that holds the field at ``loc`` (for listing allowed keys)."""
    return _walk(loc, root_model)[1]


def _message(err, root_model) -> str:
    kind, ctx, got = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        model = _model_at(err["loc"][:-1], root_model)
        known = ", ".join(model.model_fields) if model else "?"
        return f"unknown key {err['loc'][-1]!r}; expected one of: {known}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        what = "an integer" if kind.startswith("int") else "a number"
        return f"expected {what}, got {got!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got!r}"
    if kind in ("string_type",):
        return f"expected text, got {got!r}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping (key: value), got {got!r}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {got!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[
            kind
        ]
        bound = next(iter(ctx.values()))
        return f"expected a value {op} {bound}, got {got!r}"
    if kind in ("too_short", "too_long"):
        which = "at least" if kind == "too_short" else "at most"
        n = ctx.get("min_length", ctx.get("max_length"))
        return f"expected {which} {n} items, got {ctx.get('actual_length', '?')}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {got!r}"
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return f"missing required field {ctx.get('discriminator')}"
    return err["msg"]


def parse_yaml_model(text: str, source: str, model: type[BaseModel], what: str):
    """Validate YAML ``text`` against a pydantic ``model``; errors name ``source``:line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([f"{source}:{line}: not valid YAML: {problem}"]) from None
    if root is None:
        raise ScenarioError([f"{source}:1: the file is empty; expected {what}"])
    if not isinstance(root, yaml.MappingNode):
        kind = {yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value"}.get(type(root), "?")
        line = root.start_mark.line + 1
        raise ScenarioError([f"{source}:{line}: expected {what}, got {kind}"])
    data = yaml.safe_load(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            raw = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if err["type"] == "union_tag_invalid":  # point at the tag itself (kind: ...)
                raw = raw + (str(err.get("ctx", {}).get("discriminator", "")).strip("'"),)
            loc, _ = _walk(raw, model)
            err = {**err, "loc": raw}
            node = _key_node(root, loc) if err["type"] == "extra_forbidden" else _node_at(root, loc)[0]
            problems.append(f"{source}:{node.start_mark.line + 1}: {_loc_str(loc)}: {_message(err, model)}")
        raise ScenarioError(problems) from None


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; ``source`` names it in error messages."""
    return parse_yaml_model(text, source, Scenario, "a scenario mapping (name, origin, ...)")


def read_yaml_file(path: str | Path) -> str:
    """A file's text, or a ScenarioError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such file"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{path}:1: not a text file ({exc.reason})"]) from None


def load_sensors(path: str | Path) -> list[RadarSpec]:
    """A sensors file (``sensors:`` list of radars), with file:line errors."""
    return parse_yaml_model(
        read_yaml_file(path), str(path), SensorsFile, "a mapping with a sensors: list"
    ).sensors


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load a scenario file, or the packaged default when ``path`` is None.

    A bare name (``baghdad-green-zone``) that is not a file is looked up among the packaged
    scenarios.
    """
    if path is None:
        path = DEFAULT_SCENARIO
    p = Path(path)
    if not p.exists() and p.suffix == "" and str(path) in packaged_scenarios():
        res = resources.files("counterram") / "scenarios" / f"{path}.yaml"
        return parse_scenario(res.read_text(encoding="utf-8"), f"scenarios/{path}.yaml")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            [f"{path}: no such file (packaged scenarios: {', '.join(packaged_scenarios())})"]
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{path}:1: not a text file ({exc.reason})"]) from None
    return parse_scenario(text, str(path))


def packaged_scenarios() -> list[str]:
    root = resources.files("counterram") / "scenarios"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def scenario_json_schema() -> dict:
    return Scenario.model_json_schema()


# --------------------------------------------------------------------------------------------
# Expansion: salvos to single rounds
# --------------------------------------------------------------------------------------------


class Round(BaseModel):
    """One round after salvo expansion (positions in the site ENU frame, metres)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    id: str
    threat_id: str
    munition: str
    launch_time_s: float
    launch_enu_m: tuple[float, float, float]
    aim_enu_m: tuple[float, float, float] | None
    azimuth_deg: float | None
    elevation_deg: float | None
    high: bool


def expand_rounds(scn: Scenario, rng: np.random.Generator | None = None) -> list[Round]:
    """Expand salvos into single rounds, scattering aim and launch points with ``rng``.

    The default generator is seeded from ``scn.seed``, so a scenario always expands the same way.
    """
    rng = np.random.default_rng(scn.seed) if rng is None else rng
    site = scn.site
    out: list[Round] = []
    for th in scn.threats:
        salvo = th.salvo or Salvo(rounds=1)
        alt = th.launch.alt_m if th.launch.alt_m is not None else scn.ground_alt_m
        launch = site.to_enu(th.launch.lat, th.launch.lon, alt)
        aim = site.to_enu(th.aim.lat, th.aim.lon, scn.ground_alt_m) if th.aim else None
        for k in range(salvo.rounds):
            rid = th.id if salvo.rounds == 1 else f"{th.id}.{k + 1}"
            dl = rng.normal(0.0, salvo.launch_sigma_m, 2) if salvo.launch_sigma_m else np.zeros(2)
            la = launch + np.array([dl[0], dl[1], 0.0])
            ai = None
            az = el = None
            if aim is not None:
                da = rng.normal(0.0, salvo.aim_sigma_m, 2) if salvo.aim_sigma_m else np.zeros(2)
                ai = tuple(aim + np.array([da[0], da[1], 0.0]))
            else:
                dang = rng.normal(0.0, salvo.angle_sigma_deg, 2) if salvo.angle_sigma_deg else np.zeros(2)
                az = float(np.mod(th.azimuth_deg + dang[0], 360.0))
                el = float(np.clip(th.elevation_deg + dang[1], 0.5, 89.5))
            out.append(
                Round(
                    id=rid,
                    threat_id=th.id,
                    munition=th.munition,
                    launch_time_s=th.launch_time_s + k * salvo.interval_s,
                    launch_enu_m=tuple(la),
                    aim_enu_m=ai,
                    azimuth_deg=az,
                    elevation_deg=el,
                    high=th.trajectory == "high",
                )
            )
    return out
