"""Model loader: puts Hugging Face model weights onto a node's local disk, atomically and verified.

`python -m app.model_loader --help` lists the commands; `layout.py` is the on-disk contract shared with
the stack code.
"""

__version__ = "0.1.0"
