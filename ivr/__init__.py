"""The 185 IVR as plain Python: menus, prompts, routing. No socket code."""
