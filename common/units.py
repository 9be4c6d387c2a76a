"""The units the tracker knows: every stored series carries one of these, spelled exactly so."""

from __future__ import annotations

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "t CO2e": ("mass_co2e", 1.0),
    "kt CO2e": ("mass_co2e", 1_000.0),
    "Mt CO2e": ("mass_co2e", 1_000_000.0),
    "t CO2e per resident": ("mass_co2e_per_person", 1.0),
    "kg per resident": ("mass_per_person", 1.0),
    "m² per resident": ("area_per_person", 1.0),
    "µg/m³": ("concentration", 1.0),
    "GWh": ("energy", 1.0),
    "gCO2/kWh": ("emission_factor", 1.0),
    "persons": ("count_people", 1.0),
    "vehicles": ("count_vehicles", 1.0),
    "cars per 1 000 residents": ("vehicles_per_person", 0.001),
    "km": ("length", 1_000.0),
    "thousand tonnes": ("mass", 1_000.0),
    "%": ("share", 1.0),
    "index": ("index", 1.0),
}


class UnitError(ValueError):
    """A unit outside the registry, or a conversion between incompatible units."""


def check_unit(unit: str) -> str:
    """Return the unit if it is known, else raise UnitError naming the known ones."""
    if unit not in UNITS:
        raise UnitError(f"unknown unit {unit!r}; expected one of {sorted(UNITS)}")
    return unit


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Multiply a value in from_unit by this to express it in to_unit."""
    source_dim, source_factor = UNITS[check_unit(from_unit)]
    target_dim, target_factor = UNITS[check_unit(to_unit)]
    if source_dim != target_dim:
        raise UnitError(f"cannot convert {from_unit!r} ({source_dim}) to {to_unit!r} ({target_dim})")
    return source_factor / target_factor
