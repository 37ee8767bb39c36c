"""The sweep panel (issue #19): a study's parameters, its table of trials, the parallel
coordinates and parameter importance, Start / Stop / Continue and Apply best.

The core (visionstudio.core.sweeps) runs the study; this package only shows it. Nothing
here is imported by the package itself, so ``python -m visionstudio.ui.sweeps`` runs its
launcher once."""
