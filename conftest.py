"""Repository conftest.

The harness plugin (options --model/--baseline, fixtures `model`/`baseline`) is registered by the
package's `pytest11` entry point, so `make setup` (an editable install) is all this repo needs; other
repos get it the same way with `pip install`. Disable it with `-p no:harness`.
"""
