/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the Windows
 * test binaries under Wine 8.0 (Debian 12), which lacks it.  Rust's std
 * imports ProcessPrng from it (since Rust 1.78), so without it no Rust .exe
 * loads there (status c0000135).  ci/test.sh builds it with mingw-w64 and
 * puts it on Wine's DLL search path; nothing of greenlet links it.
 *
 * ProcessPrng(buffer, length) fills the buffer with random bytes; Microsoft
 * documents it as always returning TRUE.  Here the bytes come from
 * advapi32's SystemFunction036 (RtlGenRandom), which Wine implements; it
 * takes a 32-bit length, hence the chunks.  Should it ever fail, the shim
 * says FALSE rather than hand out bytes it did not fill.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    const SIZE_T chunk = 1u << 30;
    while (length > 0) {
        ULONG n = (ULONG)(length < chunk ? length : chunk);
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
