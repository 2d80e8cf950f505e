#ifndef CANKIPCRE2_SHIM_H
#define CANKIPCRE2_SHIM_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* PCRE2_ZERO_TERMINATED and PCRE2_UNSET are macros Swift cannot import (they cast ~0). */
static inline size_t canki_pcre2_unset(void) { return PCRE2_UNSET; }
#endif
