"""Optional model backends: foreground masks (rembg, GrabCut, thresholding) and generation (diffusers).

Nothing heavy is imported here; rembg, onnxruntime, diffusers and transformers are
imported inside the functions that need them.  Entry points:

- :func:`foolbox_lite.backends.photo_masks.mask_from_photo`, :func:`~foolbox_lite.backends.photo_masks.grabcut_mask`,
  :func:`~foolbox_lite.backends.photo_masks.threshold_mask`: ``(image (3, H, W), mask (1, H, W))`` from a photo;
- :func:`foolbox_lite.backends.diffusers_gen.generate_texture`, ``generate_background``, ``inpaint_background``,
  ``restyle_object``: images from prompts;
- :mod:`foolbox_lite.backends.model_store`: where model files live and how they are installed.
"""
