"""The public namespace: explicit, importable, and nothing private leaks."""

import xbarsim
import xbarsim.functional


def test_all_names_resolve():
    for module in (xbarsim, xbarsim.functional):
        for name in module.__all__:
            assert hasattr(module, name), name


def test_top_level_surface():
    expected = {"load_arch", "evolve", "arch_presets", "Arch", "CrossbarSpec", "ConfigError", "MappingError",
                "TraceError", "XbarsimError", "__version__"}
    assert expected <= set(xbarsim.__all__)
    assert issubclass(xbarsim.ConfigError, ValueError)
    assert issubclass(xbarsim.MappingError, ValueError)
    assert issubclass(xbarsim.TraceError, OSError)
