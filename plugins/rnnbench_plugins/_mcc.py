"""Matthews correlation that is 0 for a predictor that never changes its call (imports torch).

torchmetrics' BinaryMatthewsCorrCoef replaces the zero denominator of a constant
predictor by a small-number approximation and returns a small non-zero value (0.0058 on
the stock-direction test set). A constant call carries no information about the
outcome, and the MCC's limit there, as in scikit-learn, is 0.
"""

import torch
from torchmetrics.classification import BinaryMatthewsCorrCoef


class BinaryMCC(BinaryMatthewsCorrCoef):
    def compute(self) -> torch.Tensor:
        confmat = self.confmat  # [[tn, fp], [fn, tp]]: rows are the truth, columns the call
        if bool((confmat.sum(0) == 0).any()) or bool((confmat.sum(1) == 0).any()):
            return torch.zeros((), dtype=torch.float32, device=confmat.device)
        return super().compute()
