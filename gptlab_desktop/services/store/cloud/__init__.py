"""The cloud side of the store: what a remote (Firestore) store writes and reads back."""
