"""Evaluation: image-quality metrics (PSNR, SSIM, FID, LPIPS), the metric networks' weights,
and paired comparisons between methods."""
