"""fieldcase's default behaviour, written as plugins on the same hooks as third parties."""
