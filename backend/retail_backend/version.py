"""The product's version, in one place: the OpenAPI document and the root pyproject read it.

Inside backend/, so the image (built from backend/ alone) has it.
"""

__version__ = "1.2.0"
