"""Record sources that are more than one module: each is a package of small modules."""
