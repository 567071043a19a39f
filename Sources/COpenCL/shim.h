// OpenCL 1.2 API surface: what POCL, NVIDIA, AMD and Intel drivers all provide.
#ifndef STEPLAB_COPENCL_SHIM_H
#define STEPLAB_COPENCL_SHIM_H
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <CL/cl_ext.h>
#endif
