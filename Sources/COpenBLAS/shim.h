// Debian's libopenblas-dev installs cblas.h through update-alternatives; these are the
// OpenBLAS extensions Tailor also calls (thread count, core name).
#include <cblas.h>
