#ifndef CANKIZSTD_SHIM_H
#define CANKIZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
