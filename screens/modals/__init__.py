"""Modal dialogs (confirmations, sign-off, forms) and screens pushed over a view."""
