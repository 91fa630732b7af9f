#pragma once

// The ledger of a rollout whose agents share one checkpoint store: every task accepted is
// finished exactly once, by the pod that took it or by a successor. Two witnesses, both checked:
// the agents' `task.finished` log lines, and the store's own count of completions per task.

#include "lameduck/state/checkpoint_store.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace lameduck::test {

struct LedgerTally {
  int lost = 0;  // accepted, and no agent logged it finished
  int twice = 0; // logged finished more than once
  std::vector<std::string> not_once_in_store; // not done in the store, or completed other than once

  // For a failed check: how many, and the first, to look up in the store.
  std::string not_once_summary() const {
    return std::to_string(not_once_in_store.size()) + " tasks not done exactly once in the store" +
           (not_once_in_store.empty() ? std::string() : ", the first " + not_once_in_store.front());
  }
};

inline LedgerTally tally_ledger(const std::set<std::string>& accepted, const std::multiset<std::string>& finished,
                                const std::map<std::string, TaskRecord>& records) {
  LedgerTally tally;
  for (const auto& id : accepted) {
    const auto times = finished.count(id);
    tally.lost += times == 0 ? 1 : 0;
    tally.twice += times > 1 ? 1 : 0;
    const auto record = records.find(id);
    if (record == records.end() || record->second.status != "done" || record->second.finished != 1) {
      tally.not_once_in_store.push_back(id);
    }
  }
  return tally;
}

} // namespace lameduck::test
