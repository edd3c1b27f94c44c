"""Built-in metrics plugins: the entropies and I-score of Sec. 5.2, and PSNR / SSIM for prediction."""
