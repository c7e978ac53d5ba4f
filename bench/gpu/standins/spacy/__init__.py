"""Import stand-in for `spacy` on the GPU machine only (see ../README.md): any use raises."""


def __getattr__(name):
    if name.startswith("__"):  # hasattr(module, "__version__") and the like: plainly absent
        raise AttributeError(name)
    raise ImportError(f"spacy.{name}: 'spacy' is an import stand-in on the GPU benchmark machine "
                      "(bench/gpu/standins); this code path needs the real package")
