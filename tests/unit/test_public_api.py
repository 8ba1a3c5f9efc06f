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


def test_no_public_name_is_shadowed_by_a_submodule():
    """Importing every submodule must not replace a public function with a module of the same name."""
    import importlib
    import pkgutil
    import types
    for info in pkgutil.walk_packages(xbarsim.__path__, "xbarsim."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for module in (xbarsim, xbarsim.functional):
        for name in module.__all__:
            assert not isinstance(getattr(module, name), types.ModuleType), f"{module.__name__}.{name} is a module"
    assert callable(xbarsim.simulate) and callable(xbarsim.functional.mvm)
