#pragma once
/// Internal to src/registry: what the SqliteRegistry source files share (not a port).
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/result.h"
#include "storage/sqlite.h"

namespace siax::registry::detail {

/// A stored row this code cannot read back.
inline Error corrupt(std::string_view path, const std::string& message) {
  return Error{ErrorKind::Internal, "registry_error", fmt::format("registry {}: {}", path, message)};
}

/// Reads every row of `stmt` through `row` (a Result<T>(const storage::Statement&)).
template <class T, class RowFn>
Result<std::vector<T>> collect(storage::Statement& stmt, RowFn row) {
  std::vector<T> out;
  while (true) {
    SIAX_STORAGE_TRY(has_row, stmt.step());
    if (!*has_row) return out;
    auto item = row(stmt);
    if (!item) return tl::unexpected<Error>(std::move(item.error()));
    out.push_back(std::move(*item));
  }
}

}  // namespace siax::registry::detail
