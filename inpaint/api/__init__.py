"""What users run: the `Inpainter` API, the method registry the benchmark shares, blending into
the known pixels, the `inpaint` command and its web page."""
