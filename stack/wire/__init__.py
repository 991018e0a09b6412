"""Wire formats: header codecs, checksums and validation. No policy here."""
