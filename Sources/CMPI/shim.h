// Open MPI's C API. MPI_COMM_WORLD and the datatypes are macros over addresses of globals, which Swift cannot
// import, so they are wrapped in functions.
#ifndef STEPLAB_CMPI_SHIM_H
#define STEPLAB_CMPI_SHIM_H
#include <mpi.h>
static inline MPI_Comm steplab_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype steplab_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype steplab_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype steplab_mpi_int(void) { return MPI_INT; }
static inline MPI_Errhandler steplab_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Status *steplab_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
#endif
