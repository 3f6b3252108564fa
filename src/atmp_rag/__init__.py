"""atmp-rag: regulatory answers for Advanced Therapy Medicinal Products, with page-level citations."""

__all__ = ["__version__"]
__version__ = "0.1.0"
