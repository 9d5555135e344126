"""Package discovery only (metadata is in pyproject.toml).

The asset bank in ``stimuli/`` at the repository root is installed as the data
package ``foolbox_lite.bank``, which a plain ``packages.find`` cannot express.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["foolbox_lite", "foolbox_lite.*"]) + ["foolbox_lite.bank"],
    package_dir={"foolbox_lite.bank": "stimuli"},
)
