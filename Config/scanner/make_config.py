#!/usr/bin/env python3
"""Regenerates the generated parts of the scanner configuration:

- Config/scanner/phones.json: per-country calling codes, trunk prefixes, national number lengths and
  number patterns (fixed line, mobile, toll free, VoIP, personal, UAN), taken from the metadata of
  `phonenumbers` (PyPI, Apache-2.0; a port of Google's libphonenumber metadata).
- Config/scanner/tlds.json: every top-level domain of the Public Suffix List snapshot bundled with
  `tldextract` (PyPI, BSD-3-Clause; the list itself is MPL-2.0), ASCII and Unicode forms.

    python3 -m pip install phonenumbers==9.0.43 tldextract==5.4.0
    python3 Config/scanner/make_config.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTRIES = ["DE", "AT", "CH", "FR", "ES", "IT", "PT", "BR", "GB", "US", "CA", "NL", "BE", "PL", "SE",
             "TR", "RU", "JP", "CN", "KR", "IN", "MX", "AU"]
TYPES = ["fixed_line", "mobile", "toll_free", "voip", "personal_number", "uan", "premium_rate",
         "shared_cost"]


def phones():
    import phonenumbers
    from phonenumbers import PhoneMetadata
    countries = []
    for region in COUNTRIES:
        meta = PhoneMetadata.metadata_for_region(region)
        patterns = []
        for kind in TYPES:
            desc = getattr(meta, kind, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append(desc.national_number_pattern)
        lengths = sorted(set(meta.general_desc.possible_length))
        countries.append({
            "region": region,
            "calling_code": str(meta.country_code),
            "trunk_prefix": meta.national_prefix or "",
            "lengths": lengths,
            "pattern": "(?:" + "|".join(patterns) + ")",
        })
    # Every calling code in use, so that "+<code> ..." of any country is recognized.
    codes = sorted({str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if c != 0 and c != 800
                    and c < 1000}, key=lambda c: (len(c), c))
    return {
        "version": 1,
        "source": "phonenumbers %s (Apache-2.0), metadata of libphonenumber" % phonenumbers.__version__,
        "countries": countries,
        "calling_codes": codes,
    }


def tlds():
    import tldextract
    path = os.path.join(os.path.dirname(tldextract.__file__), ".tld_set_snapshot")
    names = set()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        top = line.split(".")[-1].lstrip("*!").lower()
        if top:
            names.add(top)
            if top.startswith("xn--"):
                try:
                    names.add(top.encode("ascii").decode("idna"))
                except Exception:
                    pass
    return {
        "version": 1,
        "source": "Public Suffix List snapshot bundled with tldextract %s (list: MPL-2.0)" % tldextract.__version__,
        "tlds": sorted(names),
    }


def write(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    write("phones.json", phones())
    write("tlds.json", tlds())
    print("wrote phones.json and tlds.json", file=sys.stderr)
