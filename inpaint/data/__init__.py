"""Data: decoding images, the generated default dataset, masks and the evaluation pairs."""
