# Installs the built tree into a fresh prefix, then configures, builds and runs examples/cpp
# against it with find_package(atomic_counter CONFIG REQUIRED). Run by CTest.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/include/atomic_counter/atomic_counter.hpp")
  message(FATAL_ERROR "the headers were not installed under ${prefix}/include")
endif()
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples/cpp" -B "${WORK_DIR}/build"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
file(GLOB example "${WORK_DIR}/build/ids" "${WORK_DIR}/build/*/ids")
run(${example})
if(NOT last_output MATCHES "counter: [0-9]+" OR NOT last_output MATCHES "time_counter: [0-9]+")
  message(FATAL_ERROR "unexpected example output:\n${last_output}")
endif()
message(STATUS "example output:\n${last_output}")
