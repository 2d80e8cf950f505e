#ifndef CANKIZLIB_SHIM_H
#define CANKIZLIB_SHIM_H
#include <zlib.h>
#endif
