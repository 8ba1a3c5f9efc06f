"""Energy, power and area: tables kept apart from counting, and the arithmetic that prices counts."""

from .pricing import EnergyBreakdown, action_energies_pj, area_mm2, peak_power_w, price
from .table import ComponentEnergy, EnergyTable, energy_presets, load_energy

__all__ = ["ComponentEnergy", "EnergyBreakdown", "EnergyTable", "action_energies_pj", "area_mm2", "energy_presets",
           "load_energy", "peak_power_w", "price"]
