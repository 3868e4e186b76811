"""What the SWORD Bible modules need from the machine: ``mod2imp`` and each module's
``.conf``, with the Debian package that ships it (shared by lm-word and translation)."""

from __future__ import annotations

from rnnbench import Requirement

MOD2IMP = Requirement.binary("mod2imp", apt="libsword-utils")
PACKAGES = {
    "engKJV2006eb": "sword-text-kjv",
    "engWEB2015eb": "sword-text-web",
    "spaRV1909eb": "sword-text-sparv",
}


def unavailable(module: str) -> str:
    """One line for a module ``mod2imp`` cannot export."""
    if module in PACKAGES:
        return module_requirement(module).unavailable()
    return f"SWORD module {module} is not installed, and no package rnnbench knows of ships it"


def module_requirement(module: str) -> Requirement:
    """The module's ``.conf``: where Debian puts it first, then SWORD's other roots
    (installers lower-case the name)."""
    return Requirement.path(
        f"SWORD module {module}",
        f"/usr/share/sword/mods.d/{module}.conf",
        f"/usr/local/share/sword/mods.d/{module.lower()}.conf",
        f"~/.sword/mods.d/{module.lower()}.conf",
        apt=PACKAGES[module],
    )
