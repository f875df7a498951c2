"""Qt widgets of the napari-medmask plugin (everything Qt lives here)."""
